package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fakeRunner records command lines. For commands that produce an image it writes an OCI layout with
// the labels found on the command line (so label pass-through is checked end to end); fail makes
// commands containing that word print output lines and fail.
type fakeRunner struct {
	mu        sync.Mutex
	cmds      [][]string
	envs      [][]string // each command's environment (nil: inherited)
	fail      string
	dropLabel bool
	docker    bool // whether `docker info` succeeds
	labels    map[string]string
}

func (f *fakeRunner) Run(_ context.Context, c Command) error {
	f.mu.Lock()
	f.cmds = append(f.cmds, append([]string{c.Path}, c.Args...))
	f.envs = append(f.envs, c.Env)
	f.mu.Unlock()
	if len(c.Args) > 0 && c.Args[0] == "info" {
		if f.docker {
			return nil
		}
		return errors.New("Cannot connect to the Docker daemon")
	}
	if f.fail != "" && slicesContains(c.Args, f.fail) {
		fmt.Fprint(c.Output, "STEP 1/2: FROM scratch\nError: building at STEP \"COPY nope /\": no such file\r\npartial")
		return errors.New("exit status 125")
	}
	// Labels given to a build (bud, buildx) end up in the image written by it or by a later push.
	f.mu.Lock()
	for i, a := range c.Args {
		if a == "--label" && !f.dropLabel {
			if f.labels == nil {
				f.labels = map[string]string{}
			}
			k, v, _ := strings.Cut(c.Args[i+1], "=")
			f.labels[k] = v
		}
	}
	labels := f.labels
	f.mu.Unlock()
	var out string
	for i, a := range c.Args {
		switch {
		case strings.HasPrefix(a, "oci:"):
			out = strings.TrimPrefix(a, "oci:")
		case a == "--output":
			for _, kv := range strings.Split(c.Args[i+1], ",") {
				if v, ok := strings.CutPrefix(kv, "dest="); ok {
					out = v
				}
			}
		}
	}
	if out == "" {
		return nil
	}
	img, err := random.Image(64, 1)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf.Config.Labels = labels
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	if slicesContains(c.Args, "--all") || strings.Contains(strings.Join(c.Args, " "), "linux/amd64,linux/arm64") {
		return p.AppendIndex(mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}))
	}
	return p.AppendImage(img)
}

func slicesContains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func fullRequest(t *testing.T) Request {
	return Request{
		Service:    "cart",
		Context:    "/repo",
		Dockerfile: "/repo/src/cart/Dockerfile",
		Output:     filepath.Join(t.TempDir(), "layout"),
		Args:       map[string]string{"VERSION": "1.2.3", "GOFLAGS": "-mod=vendor"},
		Target:     "release",
		Platforms:  []string{"linux/amd64", "linux/arm64"},
		Secrets:    []Secret{{ID: "npm", Env: "NPM_TOKEN"}, {ID: "netrc", File: "/home/ci/.netrc"}},
		CacheFrom:  []string{"type=registry,ref=r.example/cache"},
		CacheTo:    []string{"type=registry,ref=r.example/cache,mode=max"},
		Labels:     map[string]string{LabelTitle: "cart", LabelRevision: testSHA},
	}
}

func TestDockerCommandLine(t *testing.T) {
	f := &fakeRunner{}
	b, err := New(context.Background(), BackendDocker, WithRunner(f), WithBinary("/usr/bin/docker"))
	if err != nil {
		t.Fatal(err)
	}
	req := fullRequest(t)
	t.Setenv("NPM_TOKEN", "npm_SECRETVALUE")
	res, err := b.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/bin/docker", "buildx", "build", "--progress", "plain", "--provenance=false", "--sbom=false",
		"--file", "/repo/src/cart/Dockerfile", "--output", "type=oci,dest=" + req.Output + ",tar=false",
		"--platform", "linux/amd64,linux/arm64",
		"--build-arg", "GOFLAGS=-mod=vendor", "--build-arg", "VERSION=1.2.3",
		"--target", "release",
		"--secret", "id=npm,env=NPM_TOKEN", "--secret", "id=netrc,src=/home/ci/.netrc",
		"--cache-from", "type=registry,ref=r.example/cache", "--cache-to", "type=registry,ref=r.example/cache,mode=max",
		"--label", LabelRevision + "=" + testSHA, "--annotation", LabelRevision + "=" + testSHA,
		"--label", LabelTitle + "=cart", "--annotation", LabelTitle + "=cart",
		"/repo"}
	if len(f.cmds) != 1 || !reflect.DeepEqual(f.cmds[0], want) {
		t.Errorf("commands = %q\nwant %q", f.cmds, want)
	}
	if strings.Contains(fmt.Sprint(f.cmds), "SECRETVALUE") {
		t.Error("a secret value reached the command line")
	}
	if !res.IsIndex() || res.Builder != BackendDocker || res.Layout != req.Output || res.Digest.Hex == "" {
		t.Errorf("result = %+v, want an index in %s", res, req.Output)
	}
}

func TestDockerSinglePlatformNoOptions(t *testing.T) {
	f := &fakeRunner{}
	b, _ := New(context.Background(), BackendDocker, WithRunner(f))
	out := filepath.Join(t.TempDir(), "l")
	res, err := b.Build(context.Background(), Request{Service: "web", Context: "src/web", Output: out})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker", "buildx", "build", "--progress", "plain", "--provenance=false", "--sbom=false",
		"--file", "src/web/Dockerfile", "--output", "type=oci,dest=" + out + ",tar=false", "src/web"}
	if !reflect.DeepEqual(f.cmds[0], want) {
		t.Errorf("command = %q\nwant %q", f.cmds[0], want)
	}
	if res.IsIndex() {
		t.Error("single-platform build returned an index")
	}
}

func TestBuildahCommandLines(t *testing.T) {
	storage := t.TempDir()
	for _, tc := range []struct {
		name      string
		platforms []string
		wantBud   []string
		wantPush  []string
		wantClean []string
	}{
		{"multi-platform builds a manifest list", []string{"linux/amd64", "linux/arm64"},
			[]string{"--manifest", "NAME", "--platform", "linux/amd64,linux/arm64"},
			[]string{"manifest", "push", "--all", "NAME", "oci:OUT"}, []string{"manifest", "rm", "NAME"}},
		{"one platform", []string{"linux/arm64"}, []string{"--tag", "NAME", "--platform", "linux/arm64"},
			[]string{"push", "NAME", "oci:OUT"}, []string{"rmi", "NAME"}},
		{"native platform", nil, []string{"--tag", "NAME"}, []string{"push", "NAME", "oci:OUT"}, []string{"rmi", "NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRunner{}
			b, err := New(context.Background(), BackendBuildah, WithRunner(f), WithBinary("/usr/bin/buildah"), WithStorageDir(storage))
			if err != nil {
				t.Fatal(err)
			}
			req := fullRequest(t)
			req.Platforms = tc.platforms
			res, err := b.Build(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.cmds) != 3 {
				t.Fatalf("commands = %q, want bud, push, cleanup", f.cmds)
			}
			storageArgs := []string{"/usr/bin/buildah", "--root", storage + "/root", "--runroot", storage + "/runroot", "--storage-driver", "vfs"}
			name := ""
			for i, a := range f.cmds[0] {
				if a == "--tag" || a == "--manifest" {
					name = f.cmds[0][i+1]
				}
			}
			if !strings.HasPrefix(name, "localhost/automator/cart:") {
				t.Fatalf("local image name %q", name)
			}
			subst := func(args []string) []string {
				out := make([]string, len(args))
				for i, a := range args {
					out[i] = strings.NewReplacer("NAME", name, "OUT", req.Output).Replace(a)
				}
				return append(append([]string(nil), storageArgs...), out...)
			}
			bud := append([]string{"bud", "--isolation", "chroot", "--format", "oci", "--file", "/repo/src/cart/Dockerfile"}, tc.wantBud...)
			bud = append(bud, "--build-arg", "GOFLAGS=-mod=vendor", "--build-arg", "VERSION=1.2.3", "--target", "release",
				"--secret", "id=npm,src=NPM_TOKEN,type=env", "--secret", "id=netrc,src=/home/ci/.netrc",
				"--layers", "--cache-from", "type=registry,ref=r.example/cache", "--cache-to", "type=registry,ref=r.example/cache,mode=max",
				"--label", LabelRevision+"="+testSHA, "--annotation", LabelRevision+"="+testSHA,
				"--label", LabelTitle+"=cart", "--annotation", LabelTitle+"=cart", "/repo")
			for i, want := range [][]string{subst(bud), subst(tc.wantPush), subst(tc.wantClean)} {
				if !reflect.DeepEqual(f.cmds[i], want) {
					t.Errorf("command %d = %q\nwant        %q", i, f.cmds[i], want)
				}
			}
			if res.IsIndex() != (len(tc.platforms) > 1) {
				t.Errorf("IsIndex = %v for platforms %v", res.IsIndex(), tc.platforms)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(storage); err != nil {
				t.Errorf("Close removed a caller-supplied storage dir: %v", err)
			}
		})
	}
}

func TestAutoSelection(t *testing.T) {
	for _, tc := range []struct {
		docker bool
		want   string
	}{{true, BackendDocker}, {false, BackendBuildah}} {
		f := &fakeRunner{docker: tc.docker}
		b, err := New(context.Background(), BackendAuto, WithRunner(f))
		if err != nil {
			t.Fatal(err)
		}
		if b.Name() != tc.want {
			t.Errorf("daemon answers=%v: picked %s, want %s", tc.docker, b.Name(), tc.want)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(context.Background(), "kaniko"); err == nil {
		t.Error("unknown backend accepted")
	}
}

func TestBuildFailureKeepsBuilderOutput(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	f := &fakeRunner{fail: "bud"}
	b, _ := New(context.Background(), BackendBuildah, WithRunner(f), WithLogger(zap.New(core)), WithStorageDir(t.TempDir()))
	req := Request{Service: "cart", Context: "/repo", Output: filepath.Join(t.TempDir(), "l")}
	_, err := b.Build(context.Background(), req)
	var berr *Error
	if !errors.As(err, &berr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if berr.Service != "cart" || !strings.Contains(err.Error(), `Error: building at STEP "COPY nope /": no such file`) || !strings.Contains(err.Error(), "exit status 125") {
		t.Errorf("error does not show the builder output: %v", err)
	}
	lines := logs.FilterMessage("builder output").AllUntimed()
	var got []string
	for _, e := range lines {
		if e.ContextMap()["service"] != "cart" {
			t.Errorf("log line without service field: %v", e.ContextMap())
		}
		got = append(got, e.ContextMap()["line"].(string))
	}
	want := []string{"STEP 1/2: FROM scratch", `Error: building at STEP "COPY nope /": no such file`, "partial"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("logged lines = %q, want %q", got, want)
	}
	if len(f.cmds) != 1 {
		t.Errorf("ran %d commands after a failed bud, want 1", len(f.cmds))
	}
}

func TestBuildRejectsLostLabels(t *testing.T) {
	f := &fakeRunner{dropLabel: true}
	b, _ := New(context.Background(), BackendDocker, WithRunner(f))
	req := fullRequest(t)
	req.Platforms = nil
	_, err := b.Build(context.Background(), req)
	if !errors.Is(err, ErrLabelsMissing) {
		t.Fatalf("err = %v, want ErrLabelsMissing", err)
	}
}

func TestRequestValidation(t *testing.T) {
	b, _ := New(context.Background(), BackendDocker, WithRunner(&fakeRunner{}))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]Request{
		"secret with both":   {Service: "a", Context: ".", Output: t.TempDir() + "/o", Secrets: []Secret{{ID: "s", Env: "E", File: "f"}}},
		"secret with none":   {Service: "a", Context: ".", Output: t.TempDir() + "/o", Secrets: []Secret{{ID: "s"}}},
		"secret with comma":  {Service: "a", Context: ".", Output: t.TempDir() + "/o", Secrets: []Secret{{ID: "s,src=/etc/shadow", Env: "E"}}},
		"no output":          {Service: "a", Context: "."},
		"non-empty output":   {Service: "a", Context: ".", Output: dir},
		"output with colon":  {Service: "a", Context: ".", Output: t.TempDir() + "/a:b"},
		"build arg with '='": {Service: "a", Context: ".", Output: t.TempDir() + "/o", Args: map[string]string{"A=B": "c"}},
	} {
		if _, err := b.Build(context.Background(), req); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLineLoggerSplitsWrites(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	ll := newLineLogger(zap.New(core), "svc", "buildah")
	for _, chunk := range []string{"a", "b\nc", "\n\nd\r\n", "e"} {
		_, _ = io.WriteString(ll, chunk)
	}
	tail := ll.flush()
	if want := []string{"ab", "c", "d", "e"}; !reflect.DeepEqual(tail, want) {
		t.Errorf("lines = %q, want %q", tail, want)
	}
	if logs.Len() != 4 {
		t.Errorf("logged %d entries, want 4", logs.Len())
	}
}

func TestBuildahEnv(t *testing.T) {
	withConfig := t.TempDir()
	if err := os.WriteFile(filepath.Join(withConfig, "config.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"no DOCKER_CONFIG", []string{"PATH=/bin"}, nil},
		{"DOCKER_CONFIG with config.json", []string{"PATH=/bin", "DOCKER_CONFIG=" + withConfig}, nil},
		{"DOCKER_CONFIG without config.json is dropped", []string{"PATH=/bin", "DOCKER_CONFIG=" + empty}, []string{"PATH=/bin"}},
		{"REGISTRY_AUTH_FILE wins", []string{"REGISTRY_AUTH_FILE=/x/auth.json", "DOCKER_CONFIG=" + empty}, nil},
	} {
		if got := buildahEnv(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: env = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A request's own logger receives its builder's lines (a GitHub Actions
// group per service), and the builder's logger none of them, so parallel
// builds never interleave their output.
func TestBuildOutputGoesToTheRequestLogger(t *testing.T) {
	shared, sharedLogs := observer.New(zap.InfoLevel)
	own, ownLogs := observer.New(zap.InfoLevel)
	f := &fakeRunner{fail: "bud"}
	b, _ := New(context.Background(), BackendBuildah, WithRunner(f), WithLogger(zap.New(shared)), WithStorageDir(t.TempDir()))
	req := Request{Service: "cart", Context: "/repo", Output: filepath.Join(t.TempDir(), "l"), Log: zap.New(own).With(zap.String("service", "cart"))}
	if _, err := b.Build(context.Background(), req); err == nil {
		t.Fatal("the failing build succeeded")
	}
	if n := sharedLogs.FilterMessage("builder output").Len(); n != 0 {
		t.Errorf("%d builder lines reached the builder's logger", n)
	}
	lines := ownLogs.FilterMessage("builder output").AllUntimed()
	if len(lines) != 3 {
		t.Fatalf("%d builder lines in the request's log, want 3", len(lines))
	}
	for _, e := range lines {
		n := 0
		for _, fld := range e.Context {
			if fld.Key == "service" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("line has %d service fields, want 1: %v", n, e.Context)
		}
	}
}
