package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// automatorBinary is harness.AutomatorBinary.
func automatorBinary(t *testing.T) string { return harness.AutomatorBinary(t) }

// copyTree copies the sample monorepo so the test can edit its config.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

const e2eSHA = "89abcdef0123456789abcdef0123456789abcdef"

// TestBuildPushSampleMonorepo builds the sample monorepo's three services with buildah, pushes them to a
// real registry with basic auth, and adds a fourth service with a broken Dockerfile that must fail alone.
func TestBuildPushSampleMonorepo(t *testing.T) {
	harness.RequireBinary(t, "buildah")
	reg := harness.StartRegistry(t, harness.WithBasicAuth("ci", "reg-pass-123"))
	bin := automatorBinary(t)

	repo := t.TempDir()
	copyTree(t, "../testdata/demo/app", repo)
	if err := os.MkdirAll(filepath.Join(repo, "src/broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "src/broken/Dockerfile"), []byte("FROM scratch\nCOPY does-not-exist.txt /x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(repo, ".github/automator.yaml")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.ReplaceAll(string(raw), "MANIFESTS", "acme/manifests")
	cfgText = strings.Replace(cfgText, "services:\n", "services:\n  - name: broken\n    context: src/broken\n    image: REGISTRY/acme/broken\n", 1)
	cfgText = strings.Replace(cfgText, "    insecure: true\n", "    insecure: true\n    usernameEnv: REG_USER\n    passwordEnv: REG_PASS\n", 1)
	scanDir := t.TempDir()
	if err := scantest.WriteDB(scanDir, scantest.FreshDB(time.Now())); err != nil {
		t.Fatal(err)
	}
	cfgText = strings.Replace(cfgText, "scan:\n", "scan:\n  cacheDir: "+scanDir+"\n", 1)
	cfgText = strings.ReplaceAll(cfgText, "REGISTRY", reg.Host)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	ghOutput := filepath.Join(t.TempDir(), "github_output")
	env := append(os.Environ(), "REG_USER=ci", "REG_PASS=reg-pass-123", "GITHUB_OUTPUT="+ghOutput, "DOCKER_CONFIG="+t.TempDir(), "GITHUB_REPOSITORY=acme/shop")
	auth := remote.WithAuth(reg.Authenticator())

	// The frontend carries a fixable CRITICAL openssl: with prod (block) as
	// the only target it is scanned before push, blocked, and not pushed.
	blocked := exec.Command(bin, "build", "--config", cfgPath, "--push", "--service", "frontend", "--env", "prod", "--sha", e2eSHA)
	blocked.Dir, blocked.Env = repo, env
	out, err := blocked.CombinedOutput()
	var be *exec.ExitError
	if !errors.As(err, &be) || be.ExitCode() != 3 {
		t.Fatalf("frontend for prod: exit %v, want 3\n%s", err, out)
	}
	if !strings.Contains(string(out), "CVE-2023-9999") && !strings.Contains(string(out), "CRITICAL") {
		t.Errorf("the blocking finding is not named:\n%s", out)
	}
	frontendRepo, _ := name.NewRepository(reg.Ref("acme/frontend"))
	if tags, err := remote.List(frontendRepo, auth); err == nil && len(tags) > 0 {
		t.Fatalf("the blocked image was pushed: tags %v", tags)
	}

	// With dev (gate mode warn) as the target, the frontend is pushed with a warning.
	cmd := exec.Command(bin, "build", "--config", cfgPath, "--push", "--env", "dev", "--sha", e2eSHA, "--ref", "refs/tags/v2.1.1-rc1", "--parallelism", "2", "--log-format", "json")
	cmd.Dir = repo
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1\nstderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{`broken`, `does-not-exist.txt`, "succeeded: cart, checkout, frontend"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if strings.Contains(stderr.String()+stdout.String(), "reg-pass-123") {
		t.Error("the registry password was printed")
	}

	var listed []struct {
		Service, Image, Digest string
		Tags                   []string
		Pushed                 bool
		Status, Error          string
	}
	if err := json.Unmarshal(stdout.Bytes(), &listed); err != nil {
		t.Fatalf("stdout is not the images JSON: %v\n%s", err, stdout.String())
	}
	// Every selected service is listed (issue 14): broken with its status
	// and a one-line reason, the others as built images.
	images := listed[:0:0]
	for _, im := range listed {
		if im.Service == "broken" {
			if im.Status != "failed" || !strings.Contains(im.Error, "does-not-exist.txt") || strings.Contains(im.Error, "\n") || im.Pushed {
				t.Errorf("broken is listed as %+v, want failed with a one-line reason", im)
			}
			continue
		}
		images = append(images, im)
	}
	if len(listed) != 4 {
		t.Errorf("images = %+v, want the four selected services", listed)
	}
	outData, err := os.ReadFile(ghOutput)
	if err != nil {
		t.Fatal(err)
	}
	outputs, err := actions.ParseOutputs(string(outData))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(outputs["images"]) != strings.TrimSpace(stdout.String()) {
		t.Errorf("GITHUB_OUTPUT images = %q, want the printed list", outputs["images"])
	}
	if len(images) != 3 {
		t.Fatalf("images = %+v, want cart, checkout, frontend", images)
	}
	for _, img := range images {
		if !img.Pushed || img.Image != reg.Ref("acme/"+img.Service) || strings.Join(img.Tags, ",") != "sha-89abcdef0123,2.1.1-rc1" {
			t.Errorf("image entry %+v", img)
		}
		for _, tag := range img.Tags {
			ref, _ := name.ParseReference(img.Image + ":" + tag)
			desc, err := remote.Head(ref, auth)
			if err != nil {
				t.Fatalf("HEAD %s: %v", ref, err)
			}
			if desc.Digest.String() != img.Digest {
				t.Errorf("%s has digest %s in the registry, build reported %s", ref, desc.Digest, img.Digest)
			}
		}
		ref, _ := name.ParseReference(img.Image + "@" + img.Digest)
		ri, err := remote.Image(ref, auth)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := ri.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			build.LabelTitle: img.Service, build.LabelRevision: e2eSHA,
			build.LabelSource: "https://github.com/acme/shop",
		}
		for k, v := range want {
			if cf.Config.Labels[k] != v {
				t.Errorf("%s: config label %s = %q, want %q", img.Service, k, cf.Config.Labels[k], v)
			}
		}
		// The version is the event's, not the commit's: it is a tag, never a label.
		if v, ok := cf.Config.Labels[build.LabelVersion]; ok {
			t.Errorf("%s: per-event label %s = %q baked into the image", img.Service, build.LabelVersion, v)
		}
		if cf.Config.Labels[build.LabelCreated] == "" {
			t.Errorf("%s: no %s label", img.Service, build.LabelCreated)
		}
	}
	brokenRepo, _ := name.NewRepository(reg.Ref("acme/broken"))
	if tags, err := remote.List(brokenRepo, auth); err == nil && len(tags) > 0 {
		t.Errorf("the failed service was pushed: tags %v", tags)
	}
}

func newE2EClient(t *testing.T, regs ...*harness.Registry) *registry.Client {
	t.Helper()
	env := map[string]string{}
	var cfgRegs []config.Registry
	for i, r := range regs {
		if r.Username == "" {
			continue
		}
		u, p := fmt.Sprintf("U%d", i), fmt.Sprintf("P%d", i)
		env[u], env[p] = r.Username, r.Password
		cfgRegs = append(cfgRegs, config.Registry{Host: r.Host, UsernameEnv: u, PasswordEnv: p, Insecure: true})
	}
	c, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()), registry.WithRegistries(cfgRegs, func(k string) string { return env[k] }))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgRegs) > 0 {
		// Credentials come from config only; the Docker keychain is replaced to keep the test hermetic.
		c, err = registry.New(registry.WithRegistries(cfgRegs, func(k string) string { return env[k] }))
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func blobTransfers(r *harness.Registry) int {
	n := 0
	for _, req := range r.Requests() {
		// A POST answered 201 is a cross-repository mount; anything else on uploads moves data.
		if req.Kind == harness.KindBlobUpload && !(req.Method == "POST" && req.Status == 201) {
			n++
		}
	}
	return n
}

// TestCopyBetweenRealRegistries promotes by copy: across registries with the same digest, a second copy
// that uploads nothing, a mount within a registry, and a re-tag that uploads nothing.
func TestCopyBetweenRealRegistries(t *testing.T) {
	ctx := context.Background()
	src := harness.StartRegistry(t, harness.WithBasicAuth("src-user", "src-pass"))
	dst := harness.StartRegistry(t, harness.WithBasicAuth("dst-user", "dst-pass"))
	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	srcRef, _ := name.ParseReference(src.Ref("acme/cart:2.1.1-rc1"))
	if err := remote.Write(srcRef, img, remote.WithAuth(src.Authenticator())); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	c := newE2EClient(t, src, dst)

	got, err := c.Copy(ctx, src.Ref("acme/cart:2.1.1-rc1"), dst.Ref("prod/cart"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digest || got.Reference != dst.Ref("prod/cart:2.1.1-rc1")+"@"+digest.String() {
		t.Errorf("copied = %+v, want digest %s", got, digest)
	}
	d, err := c.Digest(ctx, dst.Ref("prod/cart:2.1.1-rc1"))
	if err != nil || d != digest {
		t.Fatalf("destination digest = %s, %v; want %s", d, err, digest)
	}

	dst.ResetRequests()
	if _, err := c.Copy(ctx, src.Ref("acme/cart:2.1.1-rc1"), dst.Ref("prod/cart:2.1.1-rc1"), false); err != nil {
		t.Fatal(err)
	}
	if n := dst.Count("", harness.KindBlobUpload) + dst.Count("PUT", harness.KindManifest); n != 0 {
		t.Errorf("second copy sent %d upload or manifest PUT requests, want 0: %+v", n, dst.Requests())
	}

	dst.ResetRequests()
	if _, err := c.Copy(ctx, dst.Ref("prod/cart:2.1.1-rc1"), dst.Ref("mirror/cart:2.1.1-rc1"), false); err != nil {
		t.Fatal(err)
	}
	if n := blobTransfers(dst); n != 0 {
		t.Errorf("copy within one registry transferred blob data %d times, want mounts only: %+v", n, dst.Requests())
	}
	if dst.Count("POST", harness.KindBlobUpload) == 0 {
		t.Error("copy within one registry made no mount request")
	}

	dst.ResetRequests()
	got, err = c.Copy(ctx, dst.Ref("prod/cart:2.1.1-rc1"), dst.Ref("prod/cart:2.1.1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digest {
		t.Errorf("re-tag reported digest %s, want %s", got.Digest, digest)
	}
	if n := dst.Count("", harness.KindBlobUpload) + dst.Count("", harness.KindBlob); n != 0 {
		t.Errorf("re-tag touched blobs %d times, want 0", n)
	}
	if n := dst.Count("PUT", harness.KindManifest); n != 1 {
		t.Errorf("re-tag sent %d manifest PUTs, want 1", n)
	}
	if d, _ := c.Digest(ctx, dst.Ref("prod/cart:2.1.1")); d != digest {
		t.Errorf("re-tagged digest %s, want %s", d, digest)
	}

	other, _ := random.Image(1024, 1)
	otherRef, _ := name.ParseReference(src.Ref("acme/cart:other"))
	if err := remote.Write(otherRef, other, remote.WithAuth(src.Authenticator())); err != nil {
		t.Fatal(err)
	}
	_, err = c.Copy(ctx, src.Ref("acme/cart:other"), dst.Ref("prod/cart:2.1.1"), false)
	var conflict *registry.TagConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("moving a release tag: err = %v, want *registry.TagConflictError", err)
	}
}
