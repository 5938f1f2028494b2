package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Backend names accepted by New (build.builder in config).
const (
	BackendAuto    = "auto"
	BackendBuildah = "buildah"
	BackendDocker  = "docker"
)

type options struct {
	log          *zap.Logger
	runner       Runner
	binary       string
	storageDir   string
	probeTimeout time.Duration
	registries   []Registry
}

// Option configures a builder.
type Option func(*options) error

// WithLogger sets the logger builder output is streamed to (one entry per line, with the service name).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithRunner replaces the process runner (tests use a recording fake).
func WithRunner(r Runner) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("nil runner")
		}
		o.runner = r
		return nil
	}
}

// WithBinary sets the path of the buildah or docker executable; by default it is looked up on PATH.
func WithBinary(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("empty builder binary path")
		}
		o.binary = path
		return nil
	}
}

// WithStorageDir makes buildah keep its image store (root and runroot) under dir instead of a fresh
// temporary directory; a persistent dir lets later runs reuse base images. Close then leaves it in place.
func WithStorageDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("empty storage dir")
		}
		o.storageDir = dir
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{log: zap.NewNop(), runner: ExecRunner{}, probeTimeout: 10 * time.Second}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("configuring builder: %w", err)
		}
	}
	return o, nil
}

// New returns the builder named by backend: "buildah", "docker", or "auto" (docker when `docker info`
// answers, that is a daemon is reachable, else buildah).
func New(ctx context.Context, backend string, opts ...Option) (Builder, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	switch backend {
	case BackendBuildah:
		return newBuildah(o)
	case BackendDocker:
		return newDocker(o)
	case BackendAuto, "":
		if o.binary == "" && dockerAnswers(ctx, o) {
			return newDocker(o)
		}
		return newBuildah(o)
	default:
		return nil, fmt.Errorf("unknown builder %q: want auto, buildah or docker", backend)
	}
}

// dockerAnswers reports whether a Docker daemon responds to `docker info`.
func dockerAnswers(ctx context.Context, o *options) bool {
	path, err := exec.LookPath("docker")
	if err != nil {
		if _, real := o.runner.(ExecRunner); real {
			return false
		}
		path = "docker"
	}
	ctx, cancel := context.WithTimeout(ctx, o.probeTimeout)
	defer cancel()
	return o.runner.Run(ctx, Command{Path: path, Args: []string{"info", "--format", "{{.ServerVersion}}"}, Output: io.Discard}) == nil
}

func lookBinary(o *options, name string) (string, error) {
	if o.binary != "" {
		return o.binary, nil
	}
	if _, real := o.runner.(ExecRunner); !real {
		return name, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("finding the %s builder: %w", name, err)
	}
	return p, nil
}

// prepareOutput checks that the layout directory can be written: absent or empty.
func prepareOutput(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving output %q: %w", dir, err)
	}
	if strings.Contains(abs, ":") {
		return "", fmt.Errorf("output %q: layout paths may not contain ':'", abs)
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("reading output %q: %w", abs, err)
	case len(entries) > 0:
		return "", fmt.Errorf("output %q is not empty", abs)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return "", fmt.Errorf("creating parent of output %q: %w", abs, err)
	}
	return abs, nil
}

func dockerfilePath(req Request) string {
	if req.Dockerfile != "" {
		return req.Dockerfile
	}
	return filepath.Join(req.Context, "Dockerfile")
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// removeTree removes dir even when it holds read-only files and directories, as buildah's vfs driver
// leaves behind (image layers are copied with their original modes).
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// run executes one builder command, streaming its output line by line, and turns a failure into *Error.
func run(ctx context.Context, o *options, backend, path string, req Request, args []string, env []string) error {
	ll := newLineLogger(o.log, req.Service, backend)
	if req.Log != nil {
		ll = newLineLogger(req.Log, "", backend)
	}
	err := o.runner.Run(ctx, Command{Path: path, Args: args, Env: env, Output: ll})
	tail := ll.flush()
	if err != nil {
		return &Error{Service: req.Service, Builder: backend, Output: tail, Err: err}
	}
	return nil
}

// finish reads the produced layout into a Result.
func finish(backend string, req Request, out string) (*Result, error) {
	desc, err := ReadLayout(out, req.Labels)
	if err != nil {
		return nil, &Error{Service: req.Service, Builder: backend, Err: err}
	}
	return &Result{Service: req.Service, Builder: backend, Layout: out, Digest: desc.Digest, MediaType: desc.MediaType}, nil
}
