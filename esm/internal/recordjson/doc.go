// Package recordjson decodes a Schema Registry body with its writer schema
// and renders it as JSON, for the local event source mapping's JSON event
// record format, and checks that a body matches its writer schema, for the
// mapping's schema validation in either format.
//
// The JSON it writes is what serde's ESM JSON-mode readers take back
// exactly: Avro in the Avro JSON encoding (a union branch other than null
// as {"branch name": value}, bytes and fixed as strings of code points
// U+0000-U+00FF, enums as their symbol, NaN and the infinities as the
// strings "NaN", "Infinity" and "-Infinity", logical types as their
// underlying type); Protobuf as protojson renders it (lowerCamelCase field
// names, which protojson and serde's reader accept besides the original
// names); a JSON Schema body as it is, once it has been checked to be one
// JSON value that the schema validates.
//
// It is imported by the esm package only: its Protobuf compiler must not
// reach what a Lambda function links.
package recordjson
