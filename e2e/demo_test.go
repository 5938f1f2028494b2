package e2e_test

import (
	"crypto/elliptic"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/deployment-automator/automator/e2e/harness"
)

// TestDemo is `make demo`: the main job end to end, offline, on the sample
// monorepo in testdata/demo — a real registry, real buildah builds, real
// Trivy on a DB built here, and the git-backed GitHub fake holding the
// manifests repository. With AUTOMATOR_DEMO=1 it narrates on stdout; in
// `make test` it runs quietly and checks each step like any other test.
func TestDemo(t *testing.T) {
	var out io.Writer = io.Discard
	if os.Getenv("AUTOMATOR_DEMO") == "1" {
		out = os.Stdout
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	step := func(title string) { say("\n\033[1m━━ %s\033[0m", title) }

	step("1. A local registry, a local GitHub and the sample monorepo")
	// The release key signs every pushed image; prod trusts its public half
	// and wants a vulnerability scan from the last week.
	key := newDemoKey(t)
	s := newShopWith(t, key.configure)
	signing := func(env map[string]string) map[string]string {
		env["DEMO_COSIGN_KEY"], env["COSIGN_PASSWORD"] = key.private, key.password
		return env
	}
	say("registry:   %s (CNCF distribution, basic auth)", s.reg.Host)
	say("GitHub:     %s (git-backed fake; repos %s and %s)", s.gh.URL, shopRepo, manifestRepo)
	say("config:     testdata/demo/app/.github/automator.yaml — cart, checkout, frontend; dev, staging, prod")
	say("signing:    sign.keyEnv DEMO_COSIGN_KEY (a cosign-format encrypted key); prod verifies .github/cosign.pub and a vuln attestation under 168h")
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}

	step("2. A developer changes the shared library libs/common and pushes to main")
	s.app.WriteFile("libs/common/common.txt", "shared library v2\n")
	change := s.app.Commit("common: faster cache")
	s.app.PushTo(s.gh, shopRepo)
	plan := s.exec(nil, "plan", "--base", s.initial, "--head", change)
	if plan.code != 0 {
		t.Fatalf("plan exit %d\n%s", plan.code, plan.stderr)
	}
	say("$ automator plan --base %s --head %s\n%s", s.initial[:7], change[:7], plan.stdout)

	step("3. The workflow step runs: build → Trivy gate → push → direct commit to dev")
	r := s.exec(signing(s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false), map[string]string{"command": "run"})))
	if r.code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	say("%s", indent(r.summary))
	head, _ := s.gh.RevParse(manifestRepo, "main")
	say("$ git show %s   # in %s\n%s", head[:7], manifestRepo, gitShow(t, s.gh.GitDir(manifestRepo), head))

	step("4. A release candidate tag v0.2.0-rc1: one pull request for staging; the gate keeps the vulnerable frontend out")
	s.app.Tag("v0.2.0-rc1")
	s.app.PushTo(s.gh, shopRepo)
	r = s.exec(signing(s.actionEnv(s.gh.PushEvent(repo, "refs/tags/v0.2.0-rc1", zeroSHA, change, false), map[string]string{"command": "run"})))
	if r.code != 3 {
		t.Fatalf("tag run exit %d, want 3 (frontend blocked)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	say("exit code 3: the gate blocked something that was asked for\n%s", indent(r.summary))
	pulls := s.gh.PullRequests(manifestRepo)
	if len(pulls) != 1 {
		t.Fatalf("pull requests: %+v", pulls)
	}
	say("pull request #%d %q (%s → %s):\n\n%s", pulls[0].Number, pulls[0].Title, pulls[0].Head, pulls[0].Base, indent(stripPending(pulls[0].Body)))

	step("5. Staging is merged; prod is proposed exactly what staging runs (dry run: nothing is written)")
	s.gh.MergePull(manifestRepo, pulls[0].Number)
	env := s.gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	writes := len(s.gh.Writes())
	r = s.exec(env, "promote", "--env", "prod", "--dry-run")
	if r.code != 0 {
		t.Fatalf("promote exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if len(s.gh.Writes()) != writes || !strings.Contains(r.stdout, "+    digest: sha256:") && !strings.Contains(r.stdout, "newTag: 0.2.0-rc1") && !strings.Contains(r.stdout, "0.2.0-rc1") {
		t.Fatalf("dry run wrote %d requests or printed no diff:\n%s", len(s.gh.Writes())-writes, r.stdout)
	}
	if !strings.Contains(r.stdout, "🔏 signed") {
		t.Errorf("prod's dry run shows no verified signature:\n%s", r.stdout)
	}
	say("$ automator promote --env prod --dry-run\n%s", stripPending(r.stdout))

	step("6. The release tag v0.2.0 on the same commit: the candidate's digests re-tagged as 0.2.0, prod's PR — one run, no rebuild")
	rel := s.runOnTag(t, "v0.2.0", change, func(ev harness.Event) map[string]string {
		return signing(s.actionEnv(ev, map[string]string{"command": "run"}))
	})
	if rel.code != 3 {
		t.Fatalf("release run exit %d, want 3 (frontend blocked for prod)\n%s\n%s", rel.code, rel.stdout, rel.stderr)
	}
	for _, svc := range []string{"cart", "checkout"} {
		group := serviceGroup(rel.stdout, svc)
		if strings.Contains(group, "STEP 1/") || !strings.Contains(group, "tagging it again instead of building") {
			t.Fatalf("the release run rebuilt %s:\n%s", svc, group)
		}
		digests := s.registryDigests(t, "acme/"+svc)
		distinct := map[string]bool{}
		for _, d := range digests {
			distinct[d] = true
		}
		if len(distinct) != 1 || digests["0.2.0"] == "" {
			t.Fatalf("%s in the registry: %v; want one digest under every tag", svc, digests)
		}
		say("registry %s/acme/%s — one image, built once, found by its commit tag and re-tagged:", s.reg.Host, svc)
		for _, tag := range slices.Sorted(maps.Keys(digests)) {
			say("    %-22s %s", tag, digests[tag])
		}
	}
	prod, ok := s.gh.ReadFile(manifestRepo, "automator/prod", "envs/prod/kustomization.yaml")
	if !ok || !strings.Contains(prod, "0.2.0") || !strings.Contains(prod, s.headDigest(s.reg.Ref("acme/cart")+":0.2.0")) {
		t.Fatalf("no prod PR pinning the release:\n%s", prod)
	}
	for _, p := range s.gh.PullRequests(manifestRepo) {
		if p.Head == "automator/prod" {
			say("pull request #%d %q (%s → %s), reviewers %v:\n\n%s", p.Number, p.Title, p.Head, p.Base, p.Reviewers, indent(stripPending(p.Body)))
		}
	}
	step("7. Prod requires a signature and a fresh vuln attestation: an image pushed by hand, unsigned, is kept out")
	unsigned := pushUnsigned(t, s.reg, "acme/cart")
	r = s.exec(env, "promote", "--env", "prod", "--dry-run", "--set", "cart="+unsigned)
	if r.code != 3 || !strings.Contains(r.stderr, "not signed") {
		t.Fatalf("promote of an unsigned image: exit %d, want 3 naming the missing signature\n%s", r.code, r.stderr)
	}
	say("$ automator promote --env prod --dry-run --set cart=%s\nexit code 3: %s", unsigned, lastLine(r.stderr))
	say("\nDone: dev runs the new digests, staging ran the candidate, prod's PR pins the very same digests as 0.2.0 — and only signed, freshly scanned images get that far.")
}

func gitShow(t *testing.T, gitDir, rev string) string {
	t.Helper()
	out, err := exec.Command("git", "--git-dir", gitDir, "show", "--stat", "--patch", "--format=commit %H%nAuthor: %an%n%n%B", rev).CombinedOutput()
	if err != nil {
		t.Fatalf("git show: %v\n%s", err, out)
	}
	return string(out)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// stripPending drops the machine-readable block from a PR body for display.
func stripPending(s string) string {
	if i := strings.Index(s, "<!-- automator:pending"); i >= 0 {
		if j := strings.Index(s[i:], "-->"); j >= 0 {
			return s[:i] + s[i+j+3:]
		}
	}
	return s
}

// demoKey is the demo's release key: the private key cosign-encrypted (as
// `cosign generate-key-pair` writes it), and its password.
type demoKey struct{ private, public, password string }

func newDemoKey(t *testing.T) demoKey {
	t.Helper()
	k := demoKey{password: "demo-key-pass"}
	priv, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc([]byte(k.password)))
	if err != nil {
		t.Fatal(err)
	}
	k.private, k.public = string(priv), string(pub)
	return k
}

// configure signs pushed images with the key and has prod verify them.
func (k demoKey) configure(cfg string) (string, map[string]string) {
	cfg = strings.Replace(cfg, "scan:\n", "sign:\n  keyEnv: DEMO_COSIGN_KEY\nscan:\n", 1)
	cfg = strings.Replace(cfg, "    gate: {failOn: [CRITICAL, HIGH], ignoreUnfixed: true}\n",
		"    gate: {failOn: [CRITICAL, HIGH], ignoreUnfixed: true}\n    verify:\n      keys: [.github/cosign.pub]\n      attestations: [{type: vuln, maxAge: 168h}]\n", 1)
	return cfg, map[string]string{".github/cosign.pub": k.public}
}

// pushUnsigned pushes a random image to repo in reg (with its credentials)
// and returns it as REPOSITORY@DIGEST.
func pushUnsigned(t *testing.T, reg *harness.Registry, repo string) string {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(reg.Ref(repo + ":by-hand"))
	if err := remote.Write(ref, img, remote.WithAuth(reg.Authenticator())); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return reg.Ref(repo) + "@" + d.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
