// Command apisurface counts the exported identifiers of every importable
// package of a module tree, so that the public surface can be compared
// across commits:
//
//	git worktree add /tmp/api-before c67cda2
//	go run ./internal/apisurface -before /tmp/api-before .
//
// It prints a Markdown table, one row per package (import path relative to
// the module root): the count in the -before tree, the count in the tree,
// and the tree's count broken down by kind. A package is a directory with
// non-test Go files that the go tool would build for linux/amd64 with cgo
// (build constraints apply), not named main, and not under an internal,
// testdata or dot directory. Counted: exported top-level types, funcs,
// vars and consts, and the exported methods of exported types (func
// declarations with an exported receiver type, and the exported methods of
// exported interface types). Fields of structs are not counted.
package main

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	before := flag.String("before", "", "the tree to compare with (a checkout of an earlier commit)")
	names := flag.String("names", "", "instead of the table, list the identifiers of this package (relative path), marking with - and + those only in the -before tree and only in the tree")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	do := run
	if *names != "" {
		do = func(w io.Writer, before, root string) error { return list(w, *names, before, root) }
	}
	if err := do(os.Stdout, *before, root); err != nil {
		fmt.Fprintln(os.Stderr, "apisurface:", err)
		os.Exit(1)
	}
}

// Count is the exported identifiers of one package, by kind.
type Count struct {
	Types, Funcs, Vars, Consts, Methods int
	names                               *[]string // "T", "F", "T.M", ...: the identifiers counted
}

func (c *Count) add(name string) { *c.names = append(*c.names, name) }

// Names returns the identifiers counted, sorted: "Name" for a top-level
// one, "Type.Method" for a method.
func (c Count) Names() []string {
	if c.names == nil {
		return nil
	}
	return slices.Sorted(slices.Values(*c.names))
}

// Total is the sum of the kinds.
func (c Count) Total() int { return c.Types + c.Funcs + c.Vars + c.Consts + c.Methods }

func run(w io.Writer, before, root string) error {
	after, err := Tree(root)
	if err != nil {
		return err
	}
	var old map[string]Count
	if before != "" {
		if old, err = Tree(before); err != nil {
			return err
		}
	}
	var paths []string
	for p := range after {
		paths = append(paths, p)
	}
	for p := range old {
		if _, ok := after[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	fmt.Fprintln(w, "| package | before | after | after: types / funcs / vars / consts / methods |")
	fmt.Fprintln(w, "| --- | ---: | ---: | --- |")
	var sumOld, sumNew int
	for _, p := range paths {
		o, inOld := old[p]
		n, inNew := after[p]
		cell := func(c Count, ok bool) string {
			if !ok {
				return "—"
			}
			return fmt.Sprint(c.Total())
		}
		kinds := ""
		if inNew {
			kinds = fmt.Sprintf("%d / %d / %d / %d / %d", n.Types, n.Funcs, n.Vars, n.Consts, n.Methods)
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", p, cell(o, inOld && before != ""), cell(n, inNew), kinds)
		sumOld += o.Total()
		sumNew += n.Total()
	}
	if before != "" {
		fmt.Fprintf(w, "| all | %d | %d | |\n", sumOld, sumNew)
	}
	return nil
}

// list prints the identifiers of pkg in root, and those only in before.
func list(w io.Writer, pkg, before, root string) error {
	after, err := Tree(root)
	if err != nil {
		return err
	}
	inOld := map[string]bool{}
	if before != "" {
		old, err := Tree(before)
		if err != nil {
			return err
		}
		for _, n := range old[pkg].Names() {
			inOld[n] = true
		}
	}
	inNew := map[string]bool{}
	for _, n := range after[pkg].Names() {
		inNew[n] = true
		mark := " "
		if before != "" && !inOld[n] {
			mark = "+"
		}
		fmt.Fprintln(w, mark, n)
	}
	for _, n := range slices.Sorted(maps.Keys(inOld)) {
		if !inNew[n] {
			fmt.Fprintln(w, "-", n)
		}
	}
	return nil
}

// Tree counts every package under root, keyed by its directory relative
// to root ("." for root itself), in slash form.
func Tree(root string) (map[string]Count, error) {
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", true
	out := map[string]Count{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
			name == "testdata" || name == "vendor" || name == "internal") {
			return filepath.SkipDir
		}
		pkg, err := ctx.ImportDir(path, 0)
		var noGo *build.NoGoError
		switch {
		case errors.As(err, &noGo):
			return nil
		case err != nil:
			return fmt.Errorf("%s: %w", path, err)
		case pkg.Name == "main":
			return nil
		}
		c, err := countFiles(path, pkg.GoFiles, pkg.CgoFiles)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = c
		return nil
	})
	return out, err
}

func countFiles(dir string, lists ...[]string) (Count, error) {
	c := Count{names: new([]string)}
	fset := token.NewFileSet()
	for _, list := range lists {
		for _, name := range list {
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return c, err
			}
			countFile(&c, f)
		}
	}
	return c, nil
}

func countFile(c *Count, f *ast.File) {
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			if d.Recv == nil {
				c.Funcs++
				c.add(d.Name.Name)
			} else if recv, ok := recvName(d.Recv.List[0].Type); ok && token.IsExported(recv) {
				c.Methods++
				c.add(recv + "." + d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					c.Types++
					c.add(s.Name.Name)
					if it, ok := s.Type.(*ast.InterfaceType); ok {
						for _, m := range it.Methods.List {
							for _, n := range m.Names { // embedded interfaces have none
								if n.IsExported() {
									c.Methods++
									c.add(s.Name.Name + "." + n.Name)
								}
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if !n.IsExported() {
							continue
						}
						c.add(n.Name)
						if d.Tok == token.CONST {
							c.Consts++
						} else {
							c.Vars++
						}
					}
				}
			}
		}
	}
}

// recvName returns the type name of a receiver type (T, *T, T[K], *T[K, V]).
func recvName(t ast.Expr) (string, bool) {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.ParenExpr:
			t = x.X
		case *ast.Ident:
			return x.Name, true
		default:
			return "", false
		}
	}
}
