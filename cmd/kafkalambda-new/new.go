package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// sdkModule is the SDK's module path.
const sdkModule = "github.com/kafkalambda/kafka-lambda-go"

// config is what the arguments ask for.
type config struct {
	module  string // the new module's path
	dir     string // where to create it
	example string // the folder under examples/
	src     string // a clone of the SDK; "" for the module cache
	tidy    bool
	version string // the SDK version to require; from the build info
}

func parseArgs(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("kafkalambda-new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kafkalambda-new [-example tradesettle] [-src dir] [-tidy=false] module [dir]")
		fs.PrintDefaults()
	}
	cfg := &config{}
	fs.StringVar(&cfg.example, "example", "tradesettle", "the example to start from (a folder of the SDK's examples/)")
	fs.StringVar(&cfg.src, "src", "", "a local clone of the SDK to copy from and build against (a replace directive); default: the module cache")
	fs.BoolVar(&cfg.tidy, "tidy", true, "run go mod tidy in the new module")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	switch fs.NArg() {
	case 1, 2:
	default:
		fs.Usage()
		return nil, errors.New("want a module path and, optionally, a folder")
	}
	cfg.module = fs.Arg(0) // go mod init checks it
	if cfg.module == "" || strings.HasPrefix(cfg.module, "-") {
		return nil, fmt.Errorf("module path %q", cfg.module)
	}
	cfg.dir = fs.Arg(1)
	if cfg.dir == "" {
		cfg.dir = path.Base(cfg.module)
	}
	if strings.ContainsAny(cfg.example, `/\`) || cfg.example == "" || cfg.example == "." || cfg.example == ".." {
		return nil, fmt.Errorf("-example %q: want the name of a folder under examples/", cfg.example)
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == sdkModule {
		cfg.version = bi.Main.Version
	}
	return cfg, nil
}

// create makes the new module.
func create(ctx context.Context, cfg config, stdout io.Writer) error {
	root, version, err := sdkSource(ctx, cfg)
	if err != nil {
		return err
	}
	from := filepath.Join(root, "examples", cfg.example)
	if st, err := os.Stat(from); err != nil || !st.IsDir() {
		return fmt.Errorf("no example %q in %s", cfg.example, root)
	}
	if _, err := os.Stat(cfg.dir); err == nil {
		return fmt.Errorf("%s already exists", cfg.dir)
	}
	oldPath := sdkModule + "/examples/" + cfg.example
	if err := copyExample(from, cfg.dir, oldPath, cfg.module); err != nil {
		return err
	}
	// go mod init checks the module path; a bad one leaves nothing behind.
	edit := []string{"mod", "edit", "-go=" + goVersion(root), "-require=" + sdkModule + "@" + version}
	if cfg.src != "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			return err
		}
		edit = append(edit, "-replace="+sdkModule+"="+abs)
	}
	for _, args := range [][]string{{"mod", "init", cfg.module}, edit} {
		if err := goCmd(ctx, cfg.dir, args...); err != nil {
			os.RemoveAll(cfg.dir)
			return err
		}
	}
	// The SDK's checksums cover the modules the function needs; tidy
	// drops the rest.
	if sums, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(cfg.dir, "go.sum"), sums, 0o644); err != nil {
			return err
		}
	}
	if cfg.tidy {
		if err := goCmd(ctx, cfg.dir, "mod", "tidy"); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "created %s (module %s) from %s@%s\n", cfg.dir, cfg.module, oldPath, version)
	return nil
}

// sdkSource returns the folder of the SDK to copy from and the version the
// new module requires.
func sdkSource(ctx context.Context, cfg config) (root, version string, err error) {
	if cfg.src != "" {
		if _, err := os.Stat(filepath.Join(cfg.src, "go.mod")); err != nil {
			return "", "", fmt.Errorf("-src %s: not a module: %w", cfg.src, err)
		}
		return cfg.src, "v0.0.0", nil
	}
	if cfg.version == "" || cfg.version == "(devel)" {
		return "", "", errors.New("this build has no SDK version (built inside a clone?): install it with go install " +
			sdkModule + "/cmd/kafkalambda-new@latest, or pass -src <clone>")
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", sdkModule+"@"+cfg.version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go mod download %s@%s: %w\n%s%s", sdkModule, cfg.version, err, out, stderr.Bytes())
	}
	var info struct{ Dir, Version string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", "", fmt.Errorf("go mod download %s@%s: no folder in its answer", sdkModule, cfg.version)
	}
	return info.Dir, info.Version, nil
}

// goVersion returns the go directive of the SDK's go.mod, so that the new
// module asks for the same Go.
func goVersion(root string) string {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err == nil {
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
				return v
			}
		}
	}
	return "1.26"
}

// copyExample copies the example's files from src to dst (not dist/, the
// build output), renaming oldPath to newPath in .go and .proto files. The
// files are made writable by their owner: the module cache's are not.
func copyExample(src, dst, oldPath, newPath string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "dist" && rel != "." {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if ext := filepath.Ext(p); ext == ".go" || ext == ".proto" {
			data = bytes.ReplaceAll(data, []byte(oldPath), []byte(newPath))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm()|0o600)
	})
}

// goCmd runs the go command in dir; its error holds the output.
func goCmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, out)
	}
	return nil
}
