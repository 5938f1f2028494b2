package e2e_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

const paymentsRepo = "vendor/payments"

// newWatchShop is a shop for the registry watcher: no monorepo to build, a
// config directory holding automator.yaml with one watch rule for
// vendor/payments (semver >=3.0.0 <4.0.0) into prod, prod a pull-request
// environment of the GitHub fake's manifests repository whose values file
// pins payments 3.3.0 by tag, and prod's gate failing on CRITICAL with the
// scantest DB.
func newWatchShop(t *testing.T) *shop {
	t.Helper()
	s := &shop{t: t, bin: automatorBinary(t)}
	s.reg = harness.StartRegistry(t, harness.WithBasicAuth(regUser, regPassword))
	s.gh = harness.StartGitHub(t)
	s.scanDir = scantest.NewDB(t, scantest.FreshDB(time.Now()))

	values := `# Values for the payments chart in prod.
payments:
  replicas: 3
  image:
    repository: ` + s.reg.Ref(paymentsRepo) + `
    tag: "3.3.0" # vendor release
`
	seed := t.TempDir()
	if err := os.MkdirAll(filepath.Join(seed, "envs/prod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seed, "envs/prod/values.yaml"), []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	s.manifest = map[string]string{"envs/prod/values.yaml": values}
	s.seed = s.gh.CreateRepo("acme", "manifests", "main", seed)

	s.app = harness.NewGitRepo(t, t.TempDir())
	s.app.WriteFile("automator.yaml", `version: 1
registries:
  - host: `+s.reg.Host+`
    insecure: true
    usernameEnv: REG_USER
    passwordEnv: REG_PASS
scan:
  offline: true
  cacheDir: `+s.scanDir+`
environments:
  - name: prod
    repo: `+manifestRepo+`
    files: [envs/prod/values.yaml]
    mode: pull-request
    gate: {failOn: [CRITICAL]}
    pullRequest:
      labels: [promotion, prod]
watch:
  rules:
    - name: payments
      image: `+s.reg.Ref(paymentsRepo)+`
      policy: {semver: ">=3.0.0 <4.0.0"}
      environments: [prod]
`)
	s.app.Commit("watcher config")
	return s
}

// watchOnce runs one watcher cycle the way a cron job would.
func (s *shop) watchOnce() runResult {
	s.t.Helper()
	env := s.gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	return s.exec(env, "--log-level", "debug", "watch", "--once")
}

// pushPayments pushes a scantest image (openssl at the given version, plus
// a file naming the release so every tag has its own digest) as
// vendor/payments:tag and returns its digest.
func (s *shop) pushPayments(tag, openssl string) string {
	s.t.Helper()
	img := scantest.Image(s.t, scantest.ImageSpec{OpenSSL: openssl, Files: map[string]string{"app/RELEASE": tag + "\n"}})
	return pushImage(s.t, s.reg, img, paymentsRepo, tag)
}

// manifestRequests lists the paths of the manifest requests the registry saw.
func (s *shop) manifestRequests() []string {
	var out []string
	for _, r := range s.reg.Requests() {
		if r.Kind == harness.KindManifest {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// TestWatchOnceBinaryPromotesThroughGate drives the built binary's
// `watch --once` against the real registry and the GitHub fake: the newest
// tag in the semver range is proposed to prod by pull request after prod's
// gate scanned it, a tag outside the range is never looked at, a
// vulnerable newer tag is blocked (exit 3) without touching the open pull
// request, a re-run re-derives the same decision without writing, and once
// prod runs the newest eligible tag a cycle costs one tag list and nothing
// else.
func TestWatchOnceBinaryPromotesThroughGate(t *testing.T) {
	s := newWatchShop(t)
	s.pushPayments("3.3.0", scantest.OpenSSLFixed)
	d340 := s.pushPayments("3.4.0", scantest.OpenSSLFixed)
	s.pushPayments("4.0.0", scantest.OpenSSLFixed)
	const file = "envs/prod/values.yaml"
	const branch = "automator/prod"

	// 1. 3.4.0 is the newest tag in range: one prod pull request pinning it
	//    by digest; 4.0.0 is out of range and never fetched.
	s.reg.ResetRequests()
	r := s.watchOnce()
	if r.code != 0 {
		t.Fatalf("first cycle exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	pulls := s.gh.PullRequests(manifestRepo)
	if len(pulls) != 1 || pulls[0].Head != branch || pulls[0].Base != "main" {
		t.Fatalf("pull requests = %+v, want one from %s into main", pulls, branch)
	}
	number := pulls[0].Number
	prod, ok := s.gh.ReadFile(manifestRepo, branch, file)
	if !ok {
		t.Fatalf("no %s on %s", file, branch)
	}
	if lines := changedLines(t, s.manifest[file], prod); len(lines) != 1 || !strings.Contains(prod, `"3.4.0@`+d340+`" # vendor release`) {
		t.Errorf("prod PR values (changed lines %v), want only the tag line at 3.4.0@%s:\n%s", lines, d340, prod)
	}
	if strings.Contains(prod, "4.0.0") {
		t.Errorf("the out-of-range 4.0.0 reached prod:\n%s", prod)
	}
	if main, _ := s.gh.ReadFile(manifestRepo, "main", file); main != s.manifest[file] {
		t.Errorf("main changed before the PR was merged:\n%s", main)
	}
	for _, p := range s.manifestRequests() {
		if strings.HasSuffix(p, "/manifests/4.0.0") || strings.HasSuffix(p, "/manifests/3.3.0") {
			t.Errorf("the watcher fetched a manifest it did not select: %s", p)
		}
	}
	if n := s.reg.Count("GET", harness.KindTags); n != 1 {
		t.Errorf("tag-list requests in the first cycle = %d, want 1", n)
	}

	// 2. A newer in-range tag with a CRITICAL openssl: prod's gate blocks it
	//    (exit 3) and the open pull request is left exactly as it was.
	d350 := s.pushPayments("3.5.0", scantest.OpenSSLVulnerable)
	prHead, _ := s.gh.RevParse(manifestRepo, branch)
	mainHead, _ := s.gh.RevParse(manifestRepo, "main")
	blockedCycle := func(what string) {
		t.Helper()
		s.gh.ResetRequests()
		s.reg.ResetRequests()
		r := s.watchOnce()
		if r.code != 3 {
			t.Fatalf("%s: exit %d, want 3 (gate blocked 3.5.0)\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, scantest.OpenSSLCritical) {
			t.Errorf("%s: the output does not name the blocking finding %s:\n%s", what, scantest.OpenSSLCritical, r.stderr)
		}
		if w := s.gh.Writes(); len(w) != 0 {
			t.Errorf("%s: a blocked promotion wrote to GitHub: %+v", what, w)
		}
		if h, _ := s.gh.RevParse(manifestRepo, branch); h != prHead {
			t.Errorf("%s: the PR branch moved %s → %s", what, prHead, h)
		}
		if h, _ := s.gh.RevParse(manifestRepo, "main"); h != mainHead {
			t.Errorf("%s: main moved %s → %s", what, mainHead, h)
		}
		if now, _ := s.gh.ReadFile(manifestRepo, branch, file); now != prod || strings.Contains(now, d350) {
			t.Errorf("%s: the PR no longer pins 3.4.0 alone:\n%s", what, now)
		}
		if got := s.gh.PullRequests(manifestRepo); len(got) != 1 || got[0].State != "open" {
			t.Errorf("%s: pull requests = %+v", what, got)
		}
		if n := s.reg.Count("GET", harness.KindTags); n != 1 {
			t.Errorf("%s: tag-list requests = %d, want 1", what, n)
		}
		// Manifests are fetched for the one candidate only (by tag, then by
		// digest for the scan), never for the other tags.
		for _, p := range s.manifestRequests() {
			if !strings.HasSuffix(p, "/manifests/3.5.0") && !strings.HasSuffix(p, "/manifests/"+d350) {
				t.Errorf("%s: manifest request for something other than the candidate: %s", what, p)
			}
		}
	}
	blockedCycle("vulnerable 3.5.0")
	// 3. Nothing new: the watcher keeps no state but git, so it re-derives
	//    the same decision — blocked again, nothing written.
	blockedCycle("re-run with nothing new")

	// 4. The vendor ships the fix: the same pull request moves to 3.5.1.
	d351 := s.pushPayments("3.5.1", scantest.OpenSSLFixed)
	r = s.watchOnce()
	if r.code != 0 {
		t.Fatalf("fixed 3.5.1: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	pulls = s.gh.PullRequests(manifestRepo)
	if len(pulls) != 1 || pulls[0].Number != number {
		t.Fatalf("pull requests = %+v, want #%d updated", pulls, number)
	}
	prod, _ = s.gh.ReadFile(manifestRepo, branch, file)
	if lines := changedLines(t, s.manifest[file], prod); len(lines) != 1 || !strings.Contains(prod, `"3.5.1@`+d351+`"`) {
		t.Errorf("prod PR values (changed lines %v), want 3.5.1@%s:\n%s", lines, d351, prod)
	}

	// 5. Steady state: prod runs the newest eligible tag. One tag list, no
	//    manifest or blob request, no write.
	s.gh.MergePull(manifestRepo, number)
	s.gh.ResetRequests()
	s.reg.ResetRequests()
	r = s.watchOnce()
	if r.code != 0 {
		t.Fatalf("steady state: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if w := s.gh.Writes(); len(w) != 0 {
		t.Errorf("steady state wrote to GitHub: %+v", w)
	}
	if n := s.reg.Count("GET", harness.KindTags); n != 1 {
		t.Errorf("steady state: tag-list requests = %d, want 1", n)
	}
	if m := s.manifestRequests(); len(m) != 0 {
		t.Errorf("steady state: manifest requests %v, want none", m)
	}
	if n := s.reg.Count("", harness.KindBlob); n != 0 {
		t.Errorf("steady state: %d blob requests, want none", n)
	}
}

// tokenTap fronts the GitHub fake with a reverse proxy that records every
// installation token the fake mints, so a test knows their exact values.
type tokenTap struct {
	// APIURL is the proxied API root to use as GITHUB_API_URL.
	APIURL string
	mu     sync.Mutex
	tokens []string
}

func tapInstallationTokens(t *testing.T, gh *harness.GitHub) *tokenTap {
	t.Helper()
	target, err := url.Parse(gh.URL)
	if err != nil {
		t.Fatal(err)
	}
	tap := &tokenTap{}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host             // the fake builds its URLs from the Host it is asked for
		pr.Out.Header.Del("Accept-Encoding") // read the token in clear
	}}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodPost || !strings.HasSuffix(resp.Request.URL.Path, "/access_tokens") || resp.StatusCode != http.StatusCreated {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var v struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Token == "" {
			return fmt.Errorf("unreadable access token response %q: %v", body, err)
		}
		tap.mu.Lock()
		tap.tokens = append(tap.tokens, v.Token)
		tap.mu.Unlock()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	tap.APIURL = srv.URL + "/api/v3"
	return tap
}

// take returns the tokens minted since the last take.
func (tap *tokenTap) take() []string {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	out := tap.tokens
	tap.tokens = nil
	return out
}

// requireAppWrites fails t unless gh received repository writes and every
// one was made as the App installation (not with a plain token).
func requireAppWrites(t *testing.T, gh *harness.GitHub) {
	t.Helper()
	writes := repoWrites(gh)
	if len(writes) == 0 {
		t.Fatal("run wrote nothing to the manifests repository")
	}
	for _, w := range writes {
		if w.Identity.Kind != harness.IdentityInstallation {
			t.Errorf("%s %s was made as %+v, not as the App installation", w.Method, w.Path, w.Identity)
		}
	}
}

// repoWrites are gh's write requests other than minting installation tokens
// (every process mints its own).
func repoWrites(gh *harness.GitHub) []harness.APIRequest {
	var out []harness.APIRequest
	for _, r := range gh.Writes() {
		if r.Identity.Kind != harness.IdentityApp {
			out = append(out, r)
		}
	}
	return out
}

// installationTokenRE is the shape of every token the fake mints.
var installationTokenRE = regexp.MustCompile(`ghs_[0-9a-f]{36}`)

// leakCheck holds the secret forms no output may contain.
type leakCheck struct {
	known  map[string]string // form → what it is
	minted map[string]string // minted tokens' forms, allowed only as ::add-mask:: lines
}

func (c *leakCheck) addKnown(what, secret string) {
	c.known[secret] = what
	c.known[base64.StdEncoding.EncodeToString([]byte(secret))] = what + " (base64)"
}

// addPEM registers the key and each line of its body: a key printed a line
// at a time leaks as surely as a whole one. Lines under 16 characters (the
// short last line) are not distinctive enough to search for.
func (c *leakCheck) addPEM(what string, pem []byte) {
	c.addKnown(what, string(pem))
	for i, line := range strings.Split(string(pem), "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			c.known[line] = fmt.Sprintf("%s line %d", what, i+1)
		}
	}
}

func (c *leakCheck) addMinted(token string) {
	c.minted[token] = "installation token"
	c.minted[base64.StdEncoding.EncodeToString([]byte(token))] = "installation token (base64)"
}

// check fails t if text (one output stream of one step) contains a secret.
// A minted token may appear only as a whole ::add-mask:: line; a known
// secret may not be announced at all (that would print it).
func (c *leakCheck) check(t *testing.T, where, text string) {
	t.Helper()
	var rest strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "::add-mask::"); ok {
			if _, minted := c.minted[v]; minted {
				continue
			}
			t.Errorf("%s: ::add-mask:: of something that is not a minted token: %.12s…", where, v)
		}
		rest.WriteString(line + "\n")
	}
	for form, what := range c.known {
		if strings.Contains(text, form) {
			t.Errorf("%s: the %s was printed", where, what)
		}
	}
	for form, what := range c.minted {
		if strings.Contains(rest.String(), form) {
			t.Errorf("%s: the %s was printed outside ::add-mask::", where, what)
		}
	}
	if m := installationTokenRE.FindString(rest.String()); m != "" {
		t.Errorf("%s: an installation token was printed (%.8s…)", where, m)
	}
}

// checkStep checks everything a step leaves behind: stdout, stderr and the
// GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY files.
func (c *leakCheck) checkStep(t *testing.T, step string, env map[string]string, r runResult) {
	t.Helper()
	c.check(t, step+" stdout", r.stdout)
	c.check(t, step+" stderr", r.stderr)
	for _, k := range []string{"GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"} {
		raw, err := os.ReadFile(env[k])
		if err != nil {
			t.Fatalf("%s: reading %s: %v", step, k, err)
		}
		c.check(t, step+" "+k, string(raw))
	}
}

// TestSecretsNeverPrinted runs a full flow at debug level inside GitHub
// Actions with known secrets — the registry password, a GitHub App private
// key, the default token — and the installation tokens the App mints:
// `automator run` on a push (build, scan, push, commit to dev as the App)
// and `automator promote --env prod --dry-run`. No output stream or
// workflow file may contain any of them, in clear, base64 or (for the key)
// line by line; minted tokens appear only in the ::add-mask:: lines that
// make the runner hide them.
func TestSecretsNeverPrinted(t *testing.T) {
	s := newShop(t)
	app := s.gh.RegisterApp("automator-app", nil)
	s.gh.InstallApp(app, "acme")
	tap := tapInstallationTokens(t, s.gh)

	cfg := s.app.ReadFile(".github/automator.yaml")
	cfg = strings.Replace(cfg, "promoteFrom: staging", "promoteFrom: dev", 1)
	cfg += fmt.Sprintf("github:\n  app:\n    id: %d\n    privateKeyEnv: AUTOMATOR_APP_PRIVATE_KEY\n", app.ID)
	s.app.WriteFile(".github/automator.yaml", cfg)
	s.app.WriteFile("libs/common/common.txt", "shared library v4\n")
	change := s.app.Commit("common: v4; deploy as the App; prod from dev")
	s.app.PushTo(s.gh, shopRepo)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}

	c := &leakCheck{known: map[string]string{}, minted: map[string]string{}}
	c.addKnown("registry password", regPassword)
	c.addKnown("registry basic auth", regUser+":"+regPassword)
	c.addKnown("GitHub token", s.gh.Token)
	c.addPEM("App private key", app.PrivateKeyPEM)

	asApp := func(env map[string]string) map[string]string {
		env["GITHUB_API_URL"] = tap.APIURL
		env["INPUT_APP-PRIVATE-KEY"] = string(app.PrivateKeyPEM)
		return env
	}
	step := func(name string, env map[string]string, args ...string) runResult {
		t.Helper()
		r := s.exec(env, args...)
		minted := tap.take()
		if len(minted) == 0 {
			t.Fatalf("%s: no installation token was minted; the App was not used (exit %d)\n%s", name, r.code, r.stderr)
		}
		for _, tok := range minted {
			c.addMinted(tok)
			if !strings.Contains(r.stdout, "::add-mask::"+tok+"\n") {
				t.Errorf("%s: a minted token was not announced with ::add-mask::", name)
			}
		}
		c.checkStep(t, name, env, r)
		return r
	}

	// 1. The container action on a push to main: dev, by commit, as the App.
	s.gh.ResetRequests()
	env := asApp(s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false),
		map[string]string{"command": "run", "log-level": "debug"}))
	r := step("run", env)
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Minting the installation token is the App's own write; the
	// repository writes must all be made with the token it minted.
	requireAppWrites(t, s.gh)
	if dev, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml"); !strings.Contains(dev, "sha-"+change[:12]+"@sha256:") {
		t.Errorf("dev was not promoted to the pushed images:\n%s", dev)
	}
	if !strings.Contains(r.stderr+r.stdout, "debug") && !strings.Contains(r.stderr+r.stdout, "DEBUG") {
		t.Errorf("no debug-level lines: the flow did not run at debug level\n%s", r.stderr)
	}

	// 2. prod from what dev runs now, dry run, at debug level, in Actions.
	s.gh.ResetRequests()
	env = asApp(s.gh.ActionsEnv(t, shopRepo, s.gh.WorkflowDispatchEvent(repo, "refs/heads/main", change, nil), s.app.Dir))
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	r = step("promote", env, "--log-level", "debug", "promote", "--env", "prod", "--dry-run")
	if r.code != 0 {
		t.Fatalf("promote --dry-run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "sha-"+change[:12]) {
		t.Errorf("the dry run does not show the images it would promote:\n%s", r.stdout)
	}
	if w := repoWrites(s.gh); len(w) != 0 {
		t.Errorf("a dry run wrote to GitHub: %+v", w)
	}
}
