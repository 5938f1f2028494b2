package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// cosignBinary is $COSIGN_BIN, else bin/tools/cosign (`make tools` builds the
// pinned cosign CLI there). Without it the test skips locally and fails in
// CI.
func cosignBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("COSIGN_BIN"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../bin/tools/cosign"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("cosign CLI not found: run `make tools` (bin/tools/cosign) or set COSIGN_BIN")
	}
	t.Skip("SKIPPING: cosign CLI not found; run `make tools` or set COSIGN_BIN")
	return ""
}

// run runs a command with env added to a hermetic environment (its own
// HOME, so neither tool reads a Docker config or a TUF cache of the user).
func run(t *testing.T, env []string, name string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}, env...)...)
	return runCommand(t, cmd)
}

// runCommand runs cmd and returns its exit code and output; failing to
// start it fails the test.
func runCommand(t *testing.T, cmd *exec.Cmd) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := runResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return r
}

// TestEvidenceCosignCrossCheck: what automator signs and attests, the cosign
// CLI verifies; what the cosign CLI signs, automator verifies; unsigned,
// wrong-key and tampered images fail both; and after `automator copy` to a
// second registry the signature still verifies there.
func TestEvidenceCosignCrossCheck(t *testing.T) {
	harness.RequireBinary(t, "buildah")
	cosign := cosignBinary(t)
	bin := automatorBinary(t)
	src := harness.StartRegistry(t)
	dst := harness.StartRegistry(t)
	keys := t.TempDir()
	pw := []string{"COSIGN_PASSWORD=e2e-key-pass"}
	for _, k := range []string{"ours", "theirs"} {
		if r := run(t, pw, cosign, "generate-key-pair", "--output-key-prefix", filepath.Join(keys, k)); r.code != 0 {
			t.Fatalf("cosign generate-key-pair: %d\n%s", r.code, r.stderr)
		}
	}
	ourKey, ourPub, theirPub := filepath.Join(keys, "ours.key"), filepath.Join(keys, "ours.pub"), filepath.Join(keys, "theirs.pub")
	offline := []string{"--insecure-ignore-tlog=true", "--insecure-ignore-sct=true"}

	// 1. automator build --push signs cart with the cosign-generated
	// (encrypted) key and attests its scan.
	repo := t.TempDir()
	copyTree(t, "../testdata/demo/app", repo)
	cfgPath := filepath.Join(repo, ".github/automator.yaml")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	scanDir := t.TempDir()
	if err := scantest.WriteDB(scanDir, scantest.FreshDB(time.Now())); err != nil {
		t.Fatal(err)
	}
	cfgText := strings.ReplaceAll(strings.ReplaceAll(string(raw), "MANIFESTS", "acme/manifests"), "REGISTRY", src.Host)
	cfgText = strings.Replace(cfgText, "scan:\n", "sign:\n  keyFile: "+ourKey+"\nscan:\n  cacheDir: "+scanDir+"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	b := run(t, append(pw, "GITHUB_REPOSITORY=acme/shop"), bin, "build", "--config", cfgPath, "--push", "--service", "cart", "--env", "dev", "--sha", e2eSHA, "--log-format", "json")
	if b.code != 0 {
		t.Fatalf("build exit %d\n%s", b.code, b.stderr)
	}
	var built []struct {
		Image, Digest string
		Evidence      []struct{ Type, Manifest string }
	}
	if err := json.Unmarshal([]byte(b.stdout), &built); err != nil || len(built) != 1 {
		t.Fatalf("build output: %v\n%s", err, b.stdout)
	}
	signed := built[0].Image + "@" + built[0].Digest
	if types := evidenceTypes(built[0].Evidence); types != "signature,vuln,cyclonedx" {
		t.Errorf("build wrote evidence %q, want signature,vuln,cyclonedx: %+v", types, built[0].Evidence)
	}

	// 2. The cosign CLI verifies our signature and our vuln attestation.
	if r := run(t, nil, cosign, append([]string{"verify", "--key", ourPub, signed}, offline...)...); r.code != 0 || !strings.Contains(r.stdout, built[0].Digest) {
		t.Fatalf("cosign verify of our signature: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r := run(t, nil, cosign, append([]string{"verify-attestation", "--type", "vuln", "--key", ourPub, signed}, offline...)...)
	if r.code != 0 {
		t.Fatalf("cosign verify-attestation --type vuln: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "payload") {
		t.Errorf("cosign printed no attestation:\n%s", r.stdout)
	}
	r = run(t, nil, cosign, append([]string{"verify-attestation", "--type", "cyclonedx", "--key", ourPub, signed}, offline...)...)
	if r.code != 0 {
		t.Fatalf("cosign verify-attestation --type cyclonedx: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// And so does automator, with the attestations fresh.
	if r := run(t, nil, bin, "verify", signed, "--key", ourPub, "--attestation", "vuln=1h", "--attestation", "cyclonedx=1h"); r.code != 0 {
		t.Fatalf("automator verify of its own signature: exit %d\n%s", r.code, r.stderr)
	}

	// 3. An image signed and attested by the cosign CLI passes automator's
	// verification.
	byCosign := pushRandom(t, src, "acme/by-cosign")
	if r := run(t, pw, cosign, "sign", "--key", ourKey, "--tlog-upload=false", "--yes", byCosign); r.code != 0 {
		t.Fatalf("cosign sign: exit %d\n%s", r.code, r.stderr)
	}
	pred := filepath.Join(t.TempDir(), "vuln.json")
	if err := os.WriteFile(pred, []byte(`{"scanner":{"uri":"pkg:github/aquasecurity/trivy","version":"0","db":{"uri":"","version":""},"result":{}},"metadata":{"scanStartedOn":"`+time.Now().UTC().Format(time.RFC3339)+`","scanFinishedOn":"`+time.Now().UTC().Format(time.RFC3339)+`"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, pw, cosign, "attest", "--key", ourKey, "--type", "vuln", "--predicate", pred, "--tlog-upload=false", "--yes", byCosign); r.code != 0 {
		t.Fatalf("cosign attest: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, nil, bin, "verify", byCosign, "--key", ourPub, "--attestation", "vuln=1h"); r.code != 0 {
		t.Fatalf("automator verify of a cosign signature: exit %d\n%s", r.code, r.stderr)
	}

	// 4. Unsigned, wrong key and tampered images are blocked (exit 3) with
	// the reason; cosign agrees on each.
	unsigned := pushRandom(t, src, "acme/unsigned")
	tampered := pushRandom(t, src, "acme/cart")
	copyArtifact(t, signed, tampered, "sig") // a valid signature of another digest
	for _, tc := range []struct{ name, image, key, reason string }{
		{"unsigned", unsigned, ourPub, "not signed"},
		{"wrong key", signed, theirPub, "no signature by a trusted key"},
		{"tampered", tampered, ourPub, "not this image"},
	} {
		r := run(t, nil, bin, "verify", tc.image, "--key", tc.key)
		if r.code != 3 || !strings.Contains(r.stderr, tc.reason) {
			t.Errorf("%s: automator verify exit %d, want 3 naming %q\n%s", tc.name, r.code, tc.reason, r.stderr)
		}
		if c := run(t, nil, cosign, append([]string{"verify", "--key", tc.key, tc.image}, offline...)...); c.code == 0 {
			t.Errorf("%s: cosign verify accepted it\n%s", tc.name, c.stdout)
		}
	}

	// 5. automator copy carries the evidence: cosign verifies at the
	// destination.
	c := run(t, nil, bin, "copy", signed, dst.Ref("prod/cart:1.0.0"))
	if c.code != 0 {
		t.Fatalf("automator copy: exit %d\n%s", c.code, c.stderr)
	}
	copied := dst.Ref("prod/cart") + "@" + built[0].Digest
	if r := run(t, nil, cosign, append([]string{"verify", "--key", ourPub, copied}, offline...)...); r.code != 0 {
		t.Fatalf("cosign verify at the destination: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, cosign, append([]string{"verify-attestation", "--type", "vuln", "--key", ourPub, copied}, offline...)...); r.code != 0 {
		t.Fatalf("cosign verify-attestation at the destination: exit %d\n%s", r.code, r.stderr)
	}
}

func evidenceTypes(ev []struct{ Type, Manifest string }) string {
	var out []string
	for _, e := range ev {
		if !strings.HasPrefix(e.Manifest, "sha256:") {
			return "bad manifest digest " + e.Manifest
		}
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

// pushRandom pushes a random image to repo in reg and returns it as
// REPOSITORY@DIGEST.
func pushRandom(t *testing.T, reg *harness.Registry, repo string) string {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(reg.Ref(repo + ":latest"))
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return reg.Ref(repo) + "@" + d.String()
}

// copyArtifact copies from's cosign artifact (sig, att) onto to's tag.
func copyArtifact(t *testing.T, from, to, suffix string) {
	t.Helper()
	tag := func(image string) name.Reference {
		repo, d, _ := strings.Cut(image, "@")
		ref, err := name.ParseReference(repo + ":" + strings.Replace(d, ":", "-", 1) + "." + suffix)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	img, err := remote.Image(tag(from))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag(to), img); err != nil {
		t.Fatal(err)
	}
}
