package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A package of every kind of declaration, exported and not, with a test
// file, an internal package, a main package and a file excluded by a build
// constraint: only what a user of the package can name is counted.
func TestTreeCountsWhatAUserCanName(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n")
	write("p/p.go", `package p

type T struct{ Field int }            // type (the field is not counted)
type u struct{}                       // unexported
type G[K comparable, V any] struct{}  // type
type I interface{ M(); m(); fmt }     // type + 1 method
type fmt interface{ String() string } // unexported

func F()                   {} // func
func f()                   {}
func (T) M()               {} // method
func (*T) N()              {} // method
func (T) n()               {}
func (u) M()               {} // method of an unexported type: not counted
func (G[K, V]) M()         {} // method
func (*G[K, V]) P()        {} // method

var V, w = 1, 2 // var
const (
	C = iota // const
	D        // const
	e
)
`)
	write("p/p_test.go", "package p\n\nfunc TestX() {}\n")
	write("p/race.go", "//go:build race\n\npackage p\n\nfunc Race() {}\n")
	write("p/internal/q/q.go", "package q\n\nfunc Hidden() {}\n")
	write("cmd/c/main.go", "package main\n\nfunc Exported() {}\nfunc main() {}\n")
	write("p/testdata/x.go", "package x\n\nfunc X() {}\n")

	got, err := Tree(root)
	if err != nil {
		t.Fatal(err)
	}
	want := Count{Types: 3, Funcs: 1, Vars: 1, Consts: 2, Methods: 5}
	p := got["p"]
	if len(got) != 1 || p.Types != want.Types || p.Funcs != want.Funcs || p.Vars != want.Vars ||
		p.Consts != want.Consts || p.Methods != want.Methods {
		t.Fatalf("Tree = %+v; want only p with %+v", got, want)
	}
	wantNames := "C D F G G.M G.P I I.M T T.M T.N V"
	if names := strings.Join(p.Names(), " "); names != wantNames {
		t.Fatalf("names %s; want %s", names, wantNames)
	}

	var b strings.Builder
	if err := run(&b, root, root); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| `p` | 12 | 12 | 3 / 1 / 1 / 2 / 5 |") {
		t.Fatalf("table:\n%s", b.String())
	}
}
