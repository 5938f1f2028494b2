package e2e_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
)

// addShellService adds a service whose image has a shell (the host's dash
// and the libraries it needs, so no base image is pulled) and whose
// Dockerfile runs run, with the given secrets lines.
func (s *shop) addShellService(t *testing.T, name, secrets, run string) {
	t.Helper()
	dir := filepath.Join(s.app.Dir, "src", name)
	// The shell's files are build context, not history: the git fake takes
	// no pushes of that size, and change detection needs only the Dockerfile.
	exclude := filepath.Join(s.app.Dir, ".git", "info", "exclude")
	if err := os.MkdirAll(filepath.Dir(exclude), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(exclude, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("/src/" + name + "/rootfs/\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for dst, src := range map[string]string{
		"rootfs/bin/sh":                         "/bin/dash",
		"rootfs/lib/x86_64-linux-gnu/libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6",
		"rootfs/lib64/ld-linux-x86-64.so.2":     "/lib64/ld-linux-x86-64.so.2",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("no %s to build a shell image from: %v", src, err)
			}
			t.Skipf("no %s to build a shell image from: %v", src, err)
		}
		p := filepath.Join(dir, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.app.WriteFile("src/"+name+"/Dockerfile", "FROM scratch\nCOPY rootfs/ /\nRUN "+run+"\n")
	cfg := s.app.ReadFile(".github/automator.yaml")
	svc := "  - name: " + name + "\n    context: src/" + name + "\n    image: " + s.reg.Host + "/acme/" + name + "\n" + secrets
	cfg = strings.Replace(cfg, "registries:\n", svc+"registries:\n", 1)
	s.app.WriteFile(".github/automator.yaml", cfg)
}

// TestBuildSecretsNeverPrinted builds, as the container action on a push
// at debug level, a service whose Dockerfile prints its two build secrets
// (one from services[].secrets[].env, one from .file) in clear and in
// base64 and then fails, next to cart, which succeeds. The builder's lines
// are logged one by one, its last lines go into the error, the annotation,
// the step summary and the images output: none of stdout, stderr,
// GITHUB_OUTPUT, GITHUB_ENV or GITHUB_STEP_SUMMARY may hold either secret
// in any form.
func TestBuildSecretsNeverPrinted(t *testing.T) {
	s := newShop(t)
	const envSecret, fileSecret = "npm-build-token-8c1e55", "netrc-password-3b9d07"
	b64 := func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }
	s.addShellService(t, "leaky",
		"    secrets:\n      - {id: tok, env: LEAKY_TOKEN}\n      - {id: netrc, file: ci/netrc}\n",
		`--mount=type=secret,id=tok --mount=type=secret,id=netrc read -r a < /run/secrets/tok; read -r b < /run/secrets/netrc; `+
			`echo "token=$a netrc=$b"; echo "encoded `+b64(envSecret)+` `+b64(fileSecret)+`"; echo "$a" >&2; false`)
	s.app.WriteFile("ci/netrc", fileSecret+"\n")
	s.app.WriteFile("libs/common/common.txt", "shared library v5\n")
	change := s.app.Commit("leaky: a service whose build prints its secrets")
	s.app.PushTo(s.gh, shopRepo)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}

	c := &leakCheck{known: map[string]string{}, minted: map[string]string{}}
	c.addKnown("env build secret", envSecret)
	c.addKnown("file build secret", fileSecret)
	c.addKnown("file build secret with its newline", fileSecret+"\n")

	env := s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false),
		map[string]string{"command": "run", "log-level": "debug"})
	env["LEAKY_TOKEN"] = envSecret
	r := s.exec(env)
	c.checkStep(t, "run", env, r)
	if r.code != 1 {
		t.Fatalf("run exit %d, want 1 (leaky's build fails)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// The secrets were printed by the builder and masked, not absent: the
	// test would prove nothing if the build never ran the RUN line.
	all := r.stdout + r.stderr
	if !strings.Contains(all, "token=*** netrc=***") || !strings.Contains(all, "encoded *** ***") {
		t.Errorf("the builder's lines with the masked secrets are not in the log:\n%s", all)
	}
	if !strings.Contains(r.stdout, "::error") || !strings.Contains(r.stdout, "leaky") {
		t.Errorf("no error annotation names the failed service:\n%s", r.stdout)
	}
	var images []imageOut
	r.output(t, "images", &images)
	if len(images) == 0 {
		t.Errorf("no images output")
	}
}
