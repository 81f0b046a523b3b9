// Package gluetest runs an in-process stand-in for the AWS Glue Schema
// Registry, for tests and local runs that need a real endpoint without AWS.
// It is the Glue counterpart of the Confluent registry the tests run
// (github.com/twmb/franz-go/pkg/sr/srfake), as secretstest is for Secrets
// Manager.
//
// A [Server] speaks the Glue JSON protocol (awsJson1.1) on a 127.0.0.1
// listener: POST / with X-Amz-Target "AWSGlue.<operation>", Content-Type
// "application/x-amz-json-1.1", SigV4-signed. It serves the schema registry
// operations the serde package calls: GetSchemaVersion (by schema version
// id, or by schema name and version number or latest), GetSchemaByDefinition,
// RegisterSchemaVersion, CreateSchema and ListSchemaVersions. Errors use the
// AWS shape {"__type":"EntityNotFoundException","Message":"..."}: 400 for
// client errors and throttling, 500 for InternalServiceException.
//
// Point the real aws-sdk-go-v2 Glue client at it with BaseEndpoint:
//
//	srv := gluetest.NewServer(t)
//	client := glue.New(glue.Options{
//		BaseEndpoint: aws.String(srv.URL),
//		Region:       "us-east-1",
//		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
//	})
//
// Semantics kept from the real service: schemas live in named registries
// (created on first use here), a schema has a data format (AVRO, JSON,
// PROTOBUF) and numbered versions, each with a random UUID schema version
// id; registering a definition a schema already has returns that version;
// RegisterSchemaVersion on a schema that does not exist is
// EntityNotFoundException. Not kept: compatibility checks (every new
// version is AVAILABLE at once), tags, metadata, deletion, pagination limits.
//
// SigV4: the server checks that a request carries an AWS4-HMAC-SHA256
// Authorization header whose credential scope names the glue service; it
// does not recompute the signature.
//
// The package imports only the standard library. All methods are safe for
// concurrent use.
package gluetest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The X-Amz-Target values the server answers.
const (
	GetSchemaVersion      = "AWSGlue.GetSchemaVersion"
	GetSchemaByDefinition = "AWSGlue.GetSchemaByDefinition"
	RegisterSchemaVersion = "AWSGlue.RegisterSchemaVersion"
	CreateSchema          = "AWSGlue.CreateSchema"
	ListSchemaVersions    = "AWSGlue.ListSchemaVersions"
)

const (
	contentType = "application/x-amz-json-1.1"
	// DefaultRegistry is the registry Glue uses when a request names none.
	DefaultRegistry = "default-registry"
	account         = "123456789012"
)

// Server is a running stand-in Glue Schema Registry.
type Server struct {
	// URL is the base endpoint, http://127.0.0.1:port.
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	schemas  map[string]*schema // registry + "/" + name
	versions map[string]*version
	calls    map[string]int
	faults   map[string][]Fault
}

type schema struct {
	registry, name, format, compat string
	versions                       []*version
}

type version struct {
	id         string
	number     int64
	definition string
	schema     *schema
}

// Fault is an error answer the server gives instead of serving a request.
type Fault struct {
	// Status is the HTTP status: 400 for client errors and throttling,
	// 500 for InternalServiceException.
	Status int
	// Type is the AWS error type, such as "ThrottlingException".
	Type    string
	Message string
}

// NewServer starts a Server on 127.0.0.1 and closes it when t ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		schemas:  map[string]*schema{},
		versions: map[string]*version{},
		calls:    map[string]int{},
		faults:   map[string][]Fault{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Register adds definition as a version of the schema name in registry
// (creating both if new; "" is DefaultRegistry) with the given data format
// ("AVRO", "JSON", "PROTOBUF"), as an out-of-band producer would, and
// returns its schema version id. A definition the schema has already
// returns its existing version id.
func (s *Server) Register(registry, name, format, definition string) (versionID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.schemas[key(registry, name)]
	if sc == nil {
		sc = s.newSchema(registry, name, format, "BACKWARD")
	}
	if sc.format != format {
		return "", fmt.Errorf("gluetest: schema %q is %s, not %s", name, sc.format, format)
	}
	return s.addVersion(sc, definition).id, nil
}

// Calls reports how many requests with the given X-Amz-Target the server
// has received, faults included.
func (s *Server) Calls(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[target]
}

// FailNext makes the server answer the next len(faults) requests with the
// given X-Amz-Target with these faults, in order.
func (s *Server) FailNext(target string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[target] = append(s.faults[target], faults...)
}

func key(registry, name string) string {
	if registry == "" {
		registry = DefaultRegistry
	}
	return registry + "/" + name
}

func (s *Server) newSchema(registry, name, format, compat string) *schema {
	if registry == "" {
		registry = DefaultRegistry
	}
	sc := &schema{registry: registry, name: name, format: format, compat: compat}
	s.schemas[key(registry, name)] = sc
	return sc
}

func (s *Server) addVersion(sc *schema, definition string) *version {
	for _, v := range sc.versions {
		if v.definition == definition {
			return v
		}
	}
	v := &version{id: newUUID(), number: int64(len(sc.versions) + 1), definition: definition, schema: sc}
	sc.versions = append(sc.versions, v)
	s.versions[v.id] = v
	return v
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (sc *schema) arn() string {
	return fmt.Sprintf("arn:aws:glue:us-east-1:%s:schema/%s/%s", account, sc.registry, sc.name)
}

// apiError is an error answer.
type apiError struct {
	status int
	typ    string
	msg    string
}

func notFound(format string, args ...any) *apiError {
	return &apiError{400, "EntityNotFoundException", fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return &apiError{400, "InvalidInputException", fmt.Sprintf(format, args...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, &apiError{404, "UnknownOperationException", "not found"})
		return
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/glue/aws4_request") {
		writeError(w, &apiError{400, "MissingAuthenticationTokenException", "request is not SigV4-signed for glue"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), contentType) {
		writeError(w, &apiError{400, "SerializationException", "content type must be " + contentType})
		return
	}
	var in request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, &apiError{400, "SerializationException", "body is not JSON"})
		return
	}
	s.mu.Lock()
	s.calls[target]++
	if f := s.faults[target]; len(f) > 0 {
		s.faults[target] = f[1:]
		s.mu.Unlock()
		writeError(w, &apiError{f[0].Status, f[0].Type, f[0].Message})
		return
	}
	out, aerr := s.handle(target, &in)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(out)
}

// request holds the fields of every operation served.
type request struct {
	SchemaID *struct {
		RegistryName string `json:"RegistryName"`
		SchemaName   string `json:"SchemaName"`
		SchemaArn    string `json:"SchemaArn"`
	} `json:"SchemaId"`
	RegistryID *struct {
		RegistryName string `json:"RegistryName"`
	} `json:"RegistryId"`
	SchemaVersionID     string `json:"SchemaVersionId"`
	SchemaVersionNumber *struct {
		LatestVersion bool   `json:"LatestVersion"`
		VersionNumber *int64 `json:"VersionNumber"`
	} `json:"SchemaVersionNumber"`
	SchemaDefinition string `json:"SchemaDefinition"`
	SchemaName       string `json:"SchemaName"`
	DataFormat       string `json:"DataFormat"`
	Compatibility    string `json:"Compatibility"`
}

func (s *Server) handle(target string, in *request) (any, *apiError) {
	switch target {
	case GetSchemaVersion:
		v, err := s.findVersion(in)
		if err != nil {
			return nil, err
		}
		return versionJSON(v, true), nil
	case GetSchemaByDefinition:
		sc, err := s.findSchema(in)
		if err != nil {
			return nil, err
		}
		for _, v := range sc.versions {
			if v.definition == in.SchemaDefinition {
				out := versionJSON(v, false)
				delete(out, "VersionNumber")
				return out, nil
			}
		}
		return nil, notFound("Schema is not found.")
	case RegisterSchemaVersion:
		sc, err := s.findSchema(in)
		if err != nil {
			return nil, err
		}
		if in.SchemaDefinition == "" {
			return nil, invalid("SchemaDefinition is required")
		}
		v := s.addVersion(sc, in.SchemaDefinition)
		return map[string]any{"SchemaVersionId": v.id, "VersionNumber": v.number, "Status": "AVAILABLE"}, nil
	case CreateSchema:
		registry := DefaultRegistry
		if in.RegistryID != nil && in.RegistryID.RegistryName != "" {
			registry = in.RegistryID.RegistryName
		}
		switch {
		case in.SchemaName == "":
			return nil, invalid("SchemaName is required")
		case in.DataFormat != "AVRO" && in.DataFormat != "JSON" && in.DataFormat != "PROTOBUF":
			return nil, invalid("DataFormat %q is not AVRO, JSON or PROTOBUF", in.DataFormat)
		case s.schemas[key(registry, in.SchemaName)] != nil:
			return nil, &apiError{400, "AlreadyExistsException", "Schema already exists."}
		}
		compat := in.Compatibility
		if compat == "" {
			compat = "BACKWARD"
		}
		sc := s.newSchema(registry, in.SchemaName, in.DataFormat, compat)
		out := map[string]any{
			"RegistryName": sc.registry, "SchemaName": sc.name, "SchemaArn": sc.arn(),
			"DataFormat": sc.format, "Compatibility": sc.compat, "SchemaStatus": "AVAILABLE",
			"SchemaCheckpoint": 1, "LatestSchemaVersion": 1, "NextSchemaVersion": 2,
		}
		if in.SchemaDefinition != "" {
			v := s.addVersion(sc, in.SchemaDefinition)
			out["SchemaVersionId"], out["SchemaVersionStatus"] = v.id, "AVAILABLE"
		}
		return out, nil
	case ListSchemaVersions:
		sc, err := s.findSchema(in)
		if err != nil {
			return nil, err
		}
		items := make([]map[string]any, 0, len(sc.versions))
		for _, v := range sc.versions {
			items = append(items, map[string]any{"SchemaArn": sc.arn(), "SchemaVersionId": v.id, "VersionNumber": v.number, "Status": "AVAILABLE"})
		}
		sort.Slice(items, func(i, j int) bool { return items[i]["VersionNumber"].(int64) > items[j]["VersionNumber"].(int64) })
		return map[string]any{"Schemas": items}, nil
	}
	return nil, &apiError{400, "UnknownOperationException", fmt.Sprintf("operation %q is not served", target)}
}

func (s *Server) findSchema(in *request) (*schema, *apiError) {
	if in.SchemaID == nil {
		return nil, invalid("SchemaId is required")
	}
	id := in.SchemaID
	if id.SchemaArn != "" {
		for _, sc := range s.schemas {
			if sc.arn() == id.SchemaArn {
				return sc, nil
			}
		}
		return nil, notFound("Schema is not found.")
	}
	if id.SchemaName == "" {
		return nil, invalid("SchemaId needs SchemaName or SchemaArn")
	}
	sc := s.schemas[key(id.RegistryName, id.SchemaName)]
	if sc == nil {
		return nil, notFound("Schema is not found.")
	}
	return sc, nil
}

func (s *Server) findVersion(in *request) (*version, *apiError) {
	if in.SchemaVersionID != "" {
		if in.SchemaID != nil || in.SchemaVersionNumber != nil {
			return nil, invalid("give SchemaVersionId, or SchemaId and SchemaVersionNumber")
		}
		v := s.versions[strings.ToLower(in.SchemaVersionID)]
		if v == nil {
			return nil, notFound("Schema version is not found.")
		}
		return v, nil
	}
	sc, err := s.findSchema(in)
	if err != nil {
		return nil, err
	}
	n := in.SchemaVersionNumber
	switch {
	case n == nil:
		return nil, invalid("SchemaVersionNumber is required with SchemaId")
	case n.LatestVersion:
		if len(sc.versions) == 0 {
			return nil, notFound("Schema version is not found.")
		}
		return sc.versions[len(sc.versions)-1], nil
	case n.VersionNumber != nil && *n.VersionNumber >= 1 && *n.VersionNumber <= int64(len(sc.versions)):
		return sc.versions[*n.VersionNumber-1], nil
	}
	return nil, notFound("Schema version is not found.")
}

func versionJSON(v *version, withDefinition bool) map[string]any {
	out := map[string]any{
		"SchemaVersionId": v.id, "SchemaArn": v.schema.arn(), "DataFormat": v.schema.format,
		"VersionNumber": v.number, "Status": "AVAILABLE", "CreatedTime": "2026-01-01T00:00:00.000Z",
	}
	if withDefinition {
		out["SchemaDefinition"] = v.definition
	}
	return out
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "Message": e.msg})
}
