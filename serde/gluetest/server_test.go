package gluetest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/serde/gluetest"
)

// The server refuses what the real service refuses: unsigned requests,
// other content types, unknown operations; and answers in the AWS error
// shape.
func TestServerRefuses(t *testing.T) {
	t.Parallel()
	srv := gluetest.NewServer(t)
	const signed = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/glue/aws4_request, SignedHeaders=host, Signature=00"
	for _, tc := range []struct {
		name, target, auth, ctype, want string
	}{
		{"unsigned", gluetest.GetSchemaVersion, "", "application/x-amz-json-1.1", "MissingAuthenticationTokenException"},
		{"other service", gluetest.GetSchemaVersion, strings.Replace(signed, "/glue/", "/s3/", 1), "application/x-amz-json-1.1", "MissingAuthenticationTokenException"},
		{"content type", gluetest.GetSchemaVersion, signed, "application/json", "SerializationException"},
		{"unknown operation", "AWSGlue.DeleteSchema", signed, "application/x-amz-json-1.1", "UnknownOperationException"},
		{"unknown version", gluetest.GetSchemaVersion, signed, "application/x-amz-json-1.1", "EntityNotFoundException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(`{"SchemaVersionId":"0b7e8f2c-1111-4222-8333-944455556666"}`))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", tc.ctype)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Type string `json:"__type"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 404 || body.Type != tc.want {
			t.Errorf("%s: HTTP %d %q, want %s", tc.name, resp.StatusCode, body.Type, tc.want)
		}
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := gluetest.NewServer(t)
	a, err := srv.Register("", "s", "AVRO", `"string"`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := srv.Register("", "s", "AVRO", `"string"`)
	c, _ := srv.Register("", "s", "AVRO", `"long"`)
	if a != b || a == c || len(a) != 36 {
		t.Errorf("ids %q %q %q", a, b, c)
	}
	if _, err := srv.Register("", "s", "JSON", `{}`); err == nil {
		t.Error("a JSON version of an AVRO schema was accepted")
	}
}
