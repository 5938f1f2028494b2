package gitops

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestEditsLandWithTheUpdatesAndHistoryReadsThem runs on a plain git remote:
// a pull request write-back with a file edit carries the edited file, its
// pending record names it, and a re-run trusts the branch and writes
// nothing; a commit-mode edit lands on main with its trailers, and History
// reads the file and the commit back.
func TestEditsLandWithTheUpdatesAndHistoryReadsThem(t *testing.T) {
	root, bare := seededBare(t, "dev")

	env := dev
	env.Repo, env.Branch, env.Mode = bare, "main", "pull-request"
	w, err := NewLocalWriter([]Option{WithWorkDir(t.TempDir()), WithRetryFor(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := 0
	edit := FileEdit{Path: ".automator/holds.yaml", Edit: func(in EditInput) ([]byte, error) {
		calls++
		if in.Pending != nil && string(in.Pending) != "holds: [cart]\n" {
			t.Errorf("pending content %q, want what the branch holds", in.Pending)
		}
		return []byte("holds: [cart]\n"), nil
	}}
	req := Request{Env: env, Updates: []Update{cartUpdate()}, Edits: []FileEdit{edit}, Held: []Held{{Service: "api", Reason: "held by bob: audit"}},
		Trailers: []string{"Automator-Hold: cart"}}
	res, err := w.Apply(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || !res.PR.Created || len(res.Files) != 2 {
		t.Fatalf("first run: PR %+v, files %d; want a proposal of 2 files", res.PR, len(res.Files))
	}
	for _, want := range []string{"Automator-Hold: cart", "Automator-Held: api", `"files":{".automator/holds.yaml":`} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, res.Message)
		}
	}
	if !strings.Contains(res.PR.Body, "Held, not promoted (1)") || !strings.Contains(res.PR.Body, "held by bob: audit") {
		t.Errorf("body does not list the held service:\n%s", res.PR.Body)
	}
	head := gitIn(t, root, "--git-dir", bare, "rev-parse", "automator/dev")
	res, err = w.Apply(ctx, req)
	if err != nil {
		t.Fatalf("re-run: %v", err)
	}
	if now := gitIn(t, root, "--git-dir", bare, "rev-parse", "automator/dev"); now != head || res.Changed() {
		t.Errorf("re-run moved the branch %s → %s (changed %v)", head, now, res.Changed())
	}
	if calls < 2 {
		t.Errorf("the edit ran %d times, want once per run", calls)
	}

	env.Mode = "commit"
	if _, err := w.Apply(ctx, Request{Env: env, Edits: []FileEdit{edit}, Title: "Hold cart in dev", Trailers: []string{"Automator-Hold: cart"}}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := w.ReadFile(ctx, env, "", ".automator/holds.yaml")
	if err != nil || !ok || string(got) != "holds: [cart]\n" {
		t.Fatalf("ReadFile = %q, %v, %v", got, ok, err)
	}
	if _, ok, err := w.ReadFile(ctx, env, "", "nope.yaml"); ok || err != nil {
		t.Errorf("ReadFile of a missing file = %v, %v; want absent", ok, err)
	}
	log, err := w.Log(ctx, env, ".automator/holds.yaml", 10)
	if err != nil || len(log) != 1 || log[0].Trailer("Automator-Hold")[0] != "cart" || len(log[0].Parents) != 1 || log[0].When.IsZero() {
		t.Fatalf("Log = %+v, %v; want the hold commit with its trailer", log, err)
	}
	if all, _ := w.Log(ctx, env, "envs/dev/values.yaml", 10); len(all) != 1 {
		t.Errorf("values.yaml has %d commits on main, want 1 (the seed; the promotion is a pull request)", len(all))
	}
}
