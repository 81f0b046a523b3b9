package samtemplate

import (
	"errors"

	"github.com/kafkalambda/kafka-lambda-go/internal/invalid"
)

// Errors that errors.Is matches. Every error this package returns is
// prefixed "samtemplate:" and wraps one of them.
var (
	// ErrTemplate: the document is not a template this package can read:
	// not YAML or JSON, not a mapping, without Resources, or with a value
	// of the wrong kind where the mapping's properties are read. The
	// message names the line or the path.
	ErrTemplate = errors.New("samtemplate: not a valid template")

	// ErrFunctionNotFound: the template has no function (an
	// AWS::Serverless::Function or AWS::Lambda::Function) of that logical
	// id, or its Condition is false; the message lists the functions it
	// has.
	ErrFunctionNotFound = errors.New("samtemplate: no such function")

	// ErrNoEventSource: the function has no Kafka event source (a SAM
	// event of Type MSK or SelfManagedKafka, or an
	// AWS::Lambda::EventSourceMapping with Topics naming it), or has
	// several and WithEvent did not choose one, or a mapping's Condition
	// cannot be evaluated.
	ErrNoEventSource = errors.New("samtemplate: no Kafka event source")

	// ErrInvalidOption: an option, or a parameter override, the template
	// cannot take: it names a parameter the template does not declare, or
	// a value not among the parameter's AllowedValues. It is the same
	// sentinel as kafkalambda.ErrInvalidOption.
	ErrInvalidOption = invalid.ErrOption
)
