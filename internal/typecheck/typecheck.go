// Package typecheck type-checks small Go files against this module's
// packages, so that a test can show that the compiler refuses a misuse of
// an API (an option given to a constructor it does not apply to) and
// accepts the right use. It holds test support only; nothing outside tests
// imports it.
//
// The packages a file imports are compiled by the go tool (`go list
// -export`, answered from the build cache when it is warm, with -race when
// the test binary was built with it, so that it shares that build's cache)
// and the file is checked with go/types against their export data: the
// same checker the compiler runs, without linking anything.
package typecheck

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Checker type-checks files that import a fixed set of packages.
type Checker struct {
	exports map[string]string // import path -> export data file
}

// New compiles imports and what they import (from the build cache when it
// can) and returns a Checker for files that import nothing else. It fails
// t when the go tool fails.
func New(t testing.TB, imports ...string) *Checker {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	// go test puts its own toolchain's bin first in PATH.
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, imports...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	c := &Checker{exports: map[string]string{}}
	for line := range strings.Lines(string(out)) {
		path, file, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && file != "" {
			c.exports[path] = file
		}
	}
	return c
}

// Error is a type error found in a checked file.
type Error struct {
	Line int    // the line of the file, from 1
	Msg  string // the checker's message
}

func (e Error) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Check parses and type-checks src, one whole Go file, and returns its
// type errors (nil when it compiles). A syntax error in src, or an import
// that New was not given, fails t: the file itself is wrong, not the API
// it exercises.
func (c *Checker) Check(t testing.TB, src string) []Error {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("the snippet does not parse: %v\n%s", err, src)
	}
	for _, spec := range f.Imports {
		path := strings.Trim(spec.Path.Value, `"`)
		if _, ok := c.exports[path]; !ok {
			t.Fatalf("the snippet imports %s, which typecheck.New was not given", path)
		}
	}
	var errs []Error
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", c.lookup),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				errs = append(errs, Error{Line: fset.Position(te.Pos).Line, Msg: te.Msg})
				return
			}
			errs = append(errs, Error{Msg: err.Error()})
		},
	}
	_, _ = conf.Check("snippet", fset, []*ast.File{f}, nil)
	return errs
}

func (c *Checker) lookup(path string) (io.ReadCloser, error) {
	file, ok := c.exports[path]
	if !ok {
		return nil, fmt.Errorf("typecheck: no export data for %s", path)
	}
	return os.Open(file)
}

// Case is code to put in a template and what the compiler must say of it.
type Case struct {
	Name string
	Code string // one line of Go, put in place of the template's %s
	// Reject is "" when the template with Code must compile; otherwise it
	// must fail with exactly one error, on Code's line, whose message
	// holds Reject (a method or type name the compiler cites).
	Reject string
}

// Run checks each case as a subtest of t: template with the case's Code in
// place of its one %s, which stands alone on its line.
func (c *Checker) Run(t *testing.T, template string, cases []Case) {
	t.Helper()
	at := strings.Index(template, "%s")
	if at < 0 || strings.Count(template, "%s") != 1 {
		t.Fatalf("the template must hold one %%s")
	}
	line := strings.Count(template[:at], "\n") + 1
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			errs := c.Check(t, strings.Replace(template, "%s", tc.Code, 1))
			if tc.Reject == "" {
				if len(errs) > 0 {
					t.Fatalf("%s\ndoes not compile: %v", tc.Code, errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Line != line || !strings.Contains(errs[0].Msg, tc.Reject) {
				t.Fatalf("%s\ngot errors %v; want one, on line %d, naming %s", tc.Code, errs, line, tc.Reject)
			}
		})
	}
}
