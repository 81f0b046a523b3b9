package secretstest

// The protocol constants the server speaks, for this package's tests, which
// send raw requests.
const (
	TargetGetSecretValue = targetGetSecretValue
	TargetDescribeSecret = targetDescribeSecret
	ContentType          = contentType
	ExtensionPath        = extensionPath
	ExtensionTokenHeader = extensionTokenHeader
)
