// Package invalid holds the one sentinel error for invalid configuration.
//
// Every public package of the module exports it under one name,
// ErrInvalidOption (kafkalambda, kafkalambda/librdkafka, kafkalambda/franz,
// kafkalambda/kafkalambdatest, serde, secrets, esm), as the same value, so
// errors.Is(err, kafkalambda.ErrInvalidOption) holds for a configuration
// error of any of them, and serde and secrets need not import kafkalambda
// for it. A package wraps it with its own prefix and the detail, e.g.
//
//	fmt.Errorf("serde: %w: Avro: nil Registry", serde.ErrInvalidOption)
//
// which reads "serde: invalid option: Avro: nil Registry".
package invalid

import "errors"

// ErrOption is the sentinel: a constructor, option or builder was given an
// argument or option it cannot use. It is the operator's fault (failure
// class "configuration"): retrying does not help until the code or its
// configuration changes. Its text carries no package prefix; the error
// that wraps it does.
var ErrOption = errors.New("invalid option")
