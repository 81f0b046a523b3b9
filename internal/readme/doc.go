// Package readme holds the tests that keep the repository's README.md
// honest: its "function in full" is compiled against the module's
// packages, so that the README cannot drift from the API. It has no code
// of its own.
package readme
