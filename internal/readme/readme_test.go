//go:build cgo

package readme_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kafkalambda/kafka-lambda-go/internal/typecheck"
)

// maxWiringLines is what issue 18 allows main and its wiring (every
// function of the block but the types) in the README's function in full.
const maxWiringLines = 40

// The README's one complete Go file (the fenced block that starts with
// "package main") compiles against this module's packages, and its
// functions, main and the wiring, stay within maxWiringLines.
func TestREADMEFunctionInFull(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, block := range goBlocks(string(data)) {
		if strings.HasPrefix(block, "package main\n") {
			files = append(files, block)
		}
	}
	if len(files) != 1 {
		t.Fatalf("README.md has %d Go blocks that start with \"package main\", want 1 (the function in full)", len(files))
	}
	src := files[0]

	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "README.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("the README's function does not parse: %v", err)
	}
	var imports []string
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		imports = append(imports, path)
	}
	c := typecheck.New(t, imports...)
	if errs := c.Check(t, src); len(errs) > 0 {
		t.Fatalf("the README's function in full does not compile:\n%v", errs)
	}

	lines := 0
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok {
			lines += fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
		}
	}
	if lines > maxWiringLines {
		t.Errorf("main and its wiring take %d lines in the README, want at most %d", lines, maxWiringLines)
	}
	t.Logf("main and wiring: %d lines", lines)
}

// goBlocks returns the bodies of the markdown's ```go fenced blocks.
func goBlocks(md string) []string {
	var blocks []string
	var cur *strings.Builder
	for line := range strings.Lines(md) {
		switch trimmed := strings.TrimSpace(line); {
		case cur == nil && trimmed == "```go":
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	return blocks
}
