package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// demoFlow is `make demo` without narration (TestDemo's steps 2 to 5): dev
// gets the new digests by a direct commit, staging by a merged pull request
// (frontend blocked by the gate), prod is left behind.
func demoFlow(t *testing.T) *shop {
	t.Helper()
	s := newShop(t)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	s.app.WriteFile("libs/common/common.txt", "shared library v2\n")
	change := s.app.Commit("common: faster cache")
	s.app.PushTo(s.gh, shopRepo)
	if r := s.exec(s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false), map[string]string{"command": "run"})); r.code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s.app.Tag("v0.2.0-rc1")
	s.app.PushTo(s.gh, shopRepo)
	if r := s.exec(s.actionEnv(s.gh.PushEvent(repo, "refs/tags/v0.2.0-rc1", zeroSHA, change, false), map[string]string{"command": "run"})); r.code != 3 {
		t.Fatalf("tag run exit %d, want 3 (frontend blocked)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	pulls := s.gh.PullRequests(manifestRepo)
	if len(pulls) != 1 {
		t.Fatalf("pull requests: %+v", pulls)
	}
	s.gh.MergePull(manifestRepo, pulls[0].Number)
	return s
}

// statusRow is the part of `status --format json` the tests check.
type statusRow struct {
	Env, Service, Tag, Digest, How, From, Scan, Upstream string
	Drift                                                bool
	Behind                                               int
	Since                                                *struct{ Commit string }
}

func readStatus(t *testing.T, s *shop) (rows map[string]statusRow, calls int) {
	t.Helper()
	env := s.gh.Env(manifestRepo)
	before := s.gh.APICalls()
	r := s.exec(env, "status", "--format", "json")
	if r.code != 0 {
		t.Fatalf("status exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var m struct {
		Envs []string
		Rows []statusRow
	}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.stdout)
	}
	if strings.Join(m.Envs, ",") != "dev,staging,prod" {
		t.Errorf("envs = %v", m.Envs)
	}
	rows = map[string]statusRow{}
	for _, row := range m.Rows {
		rows[row.Env+"/"+row.Service] = row
	}
	return rows, s.gh.APICalls() - before
}

// TestStatusAfterDemo: after the demo flow, status shows what dev, staging
// and prod run with their digests, how each got there, and prod's drift
// from staging; the job summary of `command: status` holds the matrix; and
// the reads stay within the call budget --help states.
func TestStatusAfterDemo(t *testing.T) {
	s := demoFlow(t)
	rows, calls := readStatus(t, s)

	for _, key := range []string{"dev/cart", "dev/checkout", "staging/cart", "staging/checkout", "prod/cart"} {
		if rows[key].Digest == "" && rows[key].Tag == "" {
			t.Errorf("%s: no image: %+v", key, rows[key])
		}
	}
	for _, key := range []string{"dev/cart", "staging/cart"} {
		if !strings.HasPrefix(rows[key].Digest, "sha256:") || rows[key].How != "run" || rows[key].Since == nil {
			t.Errorf("%s = %+v, want a digest pinned by a run", key, rows[key])
		}
	}
	if c := s.gh.Log(manifestRepo, "main"); rows["dev/cart"].Since != nil && !contains(c, rows["dev/cart"].Since.Commit) {
		t.Errorf("dev/cart since %s is not a commit of main", rows["dev/cart"].Since.Commit)
	}
	if rows["staging/cart"].Scan == "" {
		t.Errorf("staging/cart has no recorded scan verdict: %+v", rows["staging/cart"])
	}
	prod := rows["prod/cart"]
	if prod.Upstream != "staging" || !prod.Drift || prod.Behind < 1 || prod.Digest == rows["staging/cart"].Digest {
		t.Errorf("prod/cart = %+v, want drift behind staging (staging runs %s)", prod, rows["staging/cart"].Digest)
	}
	if prod.How != "human edit" {
		t.Errorf("prod/cart how = %q, want the seed's human edit", prod.How)
	}
	// Budget: per environment 5 + 2F calls (F = 1 file each) + 1 to find the
	// default branch of the one repository; hold state adds per environment
	// 4 + 2F, and 1 + F per commit a revert check reads (automator's last
	// promotion and its parent, in dev and staging; prod's pin is the seed's).
	if budget := 3*(5+2*1) + 1 + 3*(4+2*1) + 2*2*(1+1); calls > budget {
		t.Errorf("status made %d GitHub API calls, budget %d", calls, budget)
	}

	// In the Action, command: status writes the matrix to the job summary.
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	r := s.exec(s.actionEnv(s.gh.WorkflowDispatchEvent(repo, "refs/heads/main", s.initial, nil), map[string]string{"command": "status"}))
	if r.code != 0 {
		t.Fatalf("action status exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"What runs where", "| prod | cart |", "**behind staging by"} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("job summary lacks %q:\n%s", want, r.summary)
		}
	}

	// Promoting prod closes the drift and records how.
	env := s.gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	if r := s.exec(env, "promote", "--env", "prod"); r.code != 0 {
		t.Fatalf("promote exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	pulls := s.gh.PullRequests(manifestRepo)
	s.gh.MergePull(manifestRepo, pulls[len(pulls)-1].Number)
	rows, _ = readStatus(t, s)
	if p := rows["prod/cart"]; p.Drift || p.How != "promotion" || p.From != "staging" || p.Digest != rows["staging/cart"].Digest {
		t.Errorf("after promotion prod/cart = %+v", p)
	}
}

// TestStatusHTMLRenders renders the status page in headless Chromium: a
// screenshot is taken and the matrix is in the rendered DOM.
func TestStatusHTMLRenders(t *testing.T) {
	chromium := harness.RequireBinary(t, "chromium")
	s := demoFlow(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "status.html")
	if r := s.exec(s.gh.Env(manifestRepo), "status", "--format", "html", "-o", page); r.code != 0 {
		t.Fatalf("status exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	shot := filepath.Join(dir, "status.png")
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1400,900"}
	run := func(args ...string) string {
		cmd := exec.Command(chromium, append(append([]string(nil), common...), args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
			}
		case <-time.After(90 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("chromium %v timed out\n%s", args, errb.String())
		}
		return out.String()
	}
	run("--screenshot="+shot, "file://"+page)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	dom := run("--dump-dom", "file://"+page)
	for _, want := range []string{`<table id="status-matrix">`, `data-env="dev" data-service="cart"`, `data-env="staging"`, `data-env="prod"`, `class="drift"`, "behind staging by"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q:\n%s", want, dom)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, s) {
			return true
		}
	}
	return false
}
