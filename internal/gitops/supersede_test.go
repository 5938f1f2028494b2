package gitops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/git"
)

// gitIn runs git in dir (with the project's git runner) and fails the test
// on error.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r, err := git.Open(dir, git.WithEnv("GIT_AUTHOR_NAME=someone", "GIT_AUTHOR_EMAIL=someone@example.com",
		"GIT_COMMITTER_NAME=someone", "GIT_COMMITTER_EMAIL=someone@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(context.Background(), args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// seededBare is a bare repository (in root) whose main holds
// envs/<env>/values.yaml with values.
func seededBare(t *testing.T, env string) (root, bare string) {
	t.Helper()
	root = t.TempDir()
	bare, work := filepath.Join(root, "manifests.git"), filepath.Join(root, "work")
	gitIn(t, root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	gitIn(t, root, "clone", "--quiet", bare, work)
	if err := os.MkdirAll(filepath.Join(work, "envs", env), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "envs", env, "values.yaml"), []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, work, "add", "-A")
	gitIn(t, work, "commit", "--quiet", "-m", env)
	gitIn(t, work, "push", "--quiet", "origin", "HEAD:main")
	return root, bare
}

// TestSupersededProposalIsWithdrawn: automator's open proposal asks for an
// image; the next promotion asks for what the base already runs (its
// upstream rolled back). Nothing is left to propose, so the proposal must not
// stay mergeable: on a plain git remote its branch is deleted (leased on the
// head automator made) and the result says so.
func TestSupersededProposalIsWithdrawn(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git not installed (CI must install it: .ci/install-deps)")
		}
		t.Skip("git not installed")
	}
	root, bare := seededBare(t, "staging")

	env := dev
	env.Name, env.Repo, env.Branch, env.Mode = "staging", bare, "main", "pull-request"
	w, err := NewLocalWriter([]Option{WithWorkDir(t.TempDir()), WithRetryFor(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := w.Apply(ctx, Request{Env: env, Updates: []Update{cartUpdate()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || !res.PR.Created || res.Superseded != nil {
		t.Fatalf("first run: PR = %+v, superseded = %+v; want a proposal", res.PR, res.Superseded)
	}
	if got := gitIn(t, root, "--git-dir", bare, "branch", "--list", "automator/staging"); got == "" {
		t.Fatal("the proposal branch was not pushed")
	}

	// What main already runs.
	rolledBack := Update{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "1.0.0", Digest: digest("1")}
	res, err = w.Apply(ctx, Request{Env: env, Updates: []Update{rolledBack}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 0 || res.Commit != "" {
		t.Errorf("second run wrote: files %v, commit %q", res.Files, res.Commit)
	}
	if res.Superseded == nil || res.Superseded.Branch != "automator/staging" || res.Superseded.Reason == "" {
		t.Errorf("superseded = %+v, want the automator/staging proposal with a reason", res.Superseded)
	}
	if got := gitIn(t, root, "--git-dir", bare, "branch", "--list", "automator/staging"); got != "" {
		t.Errorf("the superseded proposal branch is still there: %q", got)
	}

	// Nothing left: a third run changes nothing and withdraws nothing.
	res, err = w.Apply(ctx, Request{Env: env, Updates: []Update{rolledBack}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Superseded != nil || res.Changed() {
		t.Errorf("third run: superseded = %+v, changed = %v", res.Superseded, res.Changed())
	}
}
