package rie

import "errors"

var (
	// ErrUnavailable is matched (errors.Is) by the error of Binary or
	// BinaryFor when the emulator is neither given nor cached and cannot be
	// built (no go command, no network).
	ErrUnavailable = errors.New("rie: emulator unavailable")

	// ErrArchitecture is matched (errors.Is) by the error of Start when the
	// bootstrap is an executable for another architecture than this
	// machine's and no WithInterpreter says what runs it.
	ErrArchitecture = errors.New("rie: bootstrap built for another architecture")

	// ErrOption is matched (errors.Is) by the error of Start when its
	// options do not fit together: WithInterpreter without WithBinary,
	// which would run this machine's emulator under the interpreter.
	ErrOption = errors.New("invalid option")
)
