package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The tradesettle example copied from this clone: a go.mod that requires
// the SDK (replaced by the clone), every import renamed, the build script
// still executable, the template and tests there.
func TestNewFromClone(t *testing.T) {
	t.Parallel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "orders")
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-src", repo, "-tidy=false", "example.com/orders", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	gomod := read(t, dir, "go.mod")
	for _, want := range []string{"module example.com/orders", "require " + sdkModule + " v0.0.0", "replace " + sdkModule + " => " + repo, "go 1."} {
		if !strings.Contains(gomod, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if !strings.Contains(read(t, dir, "main.go"), `"example.com/orders/app"`) {
		t.Errorf("main.go does not import example.com/orders/app")
	}
	if !strings.Contains(read(t, dir, "tradepb/gen.go"), "=example.com/orders/tradepb") {
		t.Errorf("tradepb/gen.go still generates into the example's path")
	}
	if grep := exec.Command("grep", "-rl", "--include=*.go", "--include=*.proto", sdkModule+"/examples/tradesettle", dir); true {
		if o, _ := grep.Output(); len(o) > 0 {
			t.Errorf("files still name the example's import path:\n%s", o)
		}
	}
	for _, f := range []string{"template.yaml", "README.md", "settle/settle_test.go", "app/function_test.go", "go.sum"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "build.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("build.sh: %v, %v; want it executable", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dist")); err == nil {
		t.Errorf("dist/ (build output) was copied")
	}
	if !strings.Contains(out.String(), "created "+dir) {
		t.Errorf("stdout %q", out.String())
	}

	// A folder that exists is never overwritten.
	errs.Reset()
	if code := run(context.Background(), []string{"-src", repo, "-tidy=false", "example.com/orders", dir}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "already exists") {
		t.Errorf("into an existing folder: exit %d, %s", code, errs.String())
	}
}

// The pure-Go example, tidied and built in its new module as a user's is.
// Tidy reaches the module proxy for go.mod files a build of the SDK never
// needs, so -short skips it.
func TestNewBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: go mod tidy may need the module proxy")
	}
	t.Parallel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "consume")
	var out, errs bytes.Buffer
	if code := run(t.Context(), []string{"-example", "consumeonly", "-src", repo, "example.com/consume", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in the new module: %v\n%s", err, o)
	}
}

func TestNewBadArguments(t *testing.T) {
	t.Parallel()
	repo, _ := filepath.Abs("../..")
	tmp := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no module", nil, 2, "module path"},
		{"too many", []string{"a.com/x", "d", "e"}, 2, "module path"},
		{"no such example", []string{"-src", repo, "-example", "nope", "a.com/x", filepath.Join(tmp, "x")}, 1, `no example "nope"`},
		{"example with a slash", []string{"-example", "../cmd", "a.com/x"}, 2, "-example"},
		{"bad module path", []string{"-src", repo, "-tidy=false", "not a path", filepath.Join(tmp, "bad")}, 1, "go mod init"},
		{"no version, no -src", []string{"a.com/x", filepath.Join(tmp, "y")}, 1, "-src"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errs)
			if code != tt.code || !strings.Contains(errs.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs.String(), tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(tmp, "bad")); err == nil {
		t.Errorf("a failed go mod init left its folder behind")
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
