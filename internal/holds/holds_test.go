package holds

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

var prod = config.Environment{Name: "prod", Repo: "acme/manifests", Files: []string{"values.yaml"}}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown key", "holds:\n  - environment: prod\n    servce: a\n", "line 3"},
		{"no environment", "holds:\n  - service: a\n", "environment is required"},
		{"not a list", "holds: 3\n", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestEditsRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	add := AddEdit(prod, Hold{Environment: "prod", Service: "cart", By: "alice", At: at, Reason: "INC-1"})
	b, err := add.Edit(gitops.EditInput{})
	if err != nil {
		t.Fatal(err)
	}
	if add.Path != config.DefaultHoldsFile {
		t.Errorf("path %q, want the default %q", add.Path, config.DefaultHoldsFile)
	}
	// Holding again replaces, never duplicates.
	b2, err := AddEdit(prod, Hold{Environment: "prod", Service: "cart", By: "alice", At: at.Add(time.Hour), Reason: "INC-1"}).Edit(gitops.EditInput{Old: b, Exists: true})
	if err != nil || string(b2) != string(b) {
		t.Fatalf("holding twice changed the file (%v):\n%s\nthen\n%s", err, b, b2)
	}
	// A regenerated pull request keeps the time its pending branch holds.
	b3, err := AddEdit(prod, Hold{Environment: "prod", Service: "cart", By: "alice", At: at.Add(time.Hour), Reason: "INC-1"}).Edit(gitops.EditInput{Pending: b})
	if err != nil || string(b3) != string(b) {
		t.Fatalf("re-applying on the base changed the pending hold (%v):\n%s\nthen\n%s", err, b, b3)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	h := f.For("prod", "cart")
	if h == nil || h.By != "alice" || !h.At.Equal(at) || h.Reason != "INC-1" {
		t.Fatalf("For(prod, cart) = %+v", h)
	}
	if f.For("prod", "other") != nil || f.For("dev", "cart") != nil {
		t.Errorf("a service hold leaked to another service or environment")
	}
	if got := h.Describe(); got != "held by alice on 2026-11-26T02:00:00Z: INC-1" {
		t.Errorf("Describe() = %q", got)
	}

	whole, err := AddEdit(prod, Hold{Environment: "prod", Reason: "freeze"}).Edit(gitops.EditInput{Old: b, Exists: true})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := Parse(whole); f.For("prod", "other") == nil || f.For("prod", "other").Reason != "freeze" {
		t.Errorf("an environment hold does not hold its other services:\n%s", whole)
	}

	rel, err := ReleaseEdit(prod, "cart", "", "bob", at).Edit(gitops.EditInput{Old: b, Exists: true})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := Parse(rel); f.For("prod", "cart") != nil {
		t.Errorf("release left the hold:\n%s", rel)
	}
	if _, err := ReleaseEdit(prod, "cart", "", "bob", at).Edit(gitops.EditInput{Old: rel, Exists: true}); !errors.Is(err, ErrNotHeld) {
		t.Errorf("releasing twice = %v, want ErrNotHeld", err)
	}
	acc, err := ReleaseEdit(prod, "cart", "abc123", "bob", at).Edit(gitops.EditInput{Old: rel, Exists: true})
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := Parse(acc); !f.released("prod", "cart", "abc123") || f.released("prod", "cart", "other") {
		t.Errorf("the accepted revert is not recorded exactly:\n%s", acc)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("holds:\n  - environment: prod\n    service: cart\n    reason: x\n"))
	f.Add([]byte("releases:\n  - {environment: prod, service: a, reverted: abc}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		// What parses renders to something that parses to the same holds.
		again, err := Parse(file.Render())
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\n%s", err, file.Render())
		}
		if len(again.Holds) != len(file.Holds) || len(again.Releases) != len(file.Releases) {
			t.Fatalf("round trip changed the entries: %+v → %+v", file, again)
		}
	})
}

// fakeRepo is a file history: commits newest first, each with the value
// of every service and the holds file.
type fakeRepo struct {
	commits []gitops.Commit
	values  map[string]map[string]string // commit → service → tag
	holds   []byte
	reads   int
}

func (r *fakeRepo) ReadFile(_ context.Context, _ config.Environment, _, p string) ([]byte, bool, error) {
	if p != config.DefaultHoldsFile || r.holds == nil {
		return nil, false, nil
	}
	return r.holds, true, nil
}

func (r *fakeRepo) Log(_ context.Context, _ config.Environment, _ string, limit int) ([]gitops.Commit, error) {
	return r.commits[:min(limit, len(r.commits))], nil
}

func (r *fakeRepo) Current(_ context.Context, _ config.Environment, at string, images map[string]string) ([]gitops.Image, error) {
	if at == "" {
		at = r.commits[0].SHA
	}
	r.reads++
	var out []gitops.Image
	for s, repo := range images {
		if tag, ok := r.values[at][s]; ok {
			out = append(out, gitops.Image{Service: s, Repository: repo, Tag: tag, File: "values.yaml"})
		}
	}
	return out, nil
}

func bot(sha, parent string, services ...string) gitops.Commit {
	msg := "Promote\n\n"
	for _, s := range services {
		msg += "Automator-Service: " + s + "\n"
	}
	return gitops.Commit{SHA: sha, Parents: []string{parent}, Message: msg + "Automator-Environment: prod\n"}
}

func human(sha, parent string) gitops.Commit {
	return gitops.Commit{SHA: sha, Parents: []string{parent}, Message: "edit by hand\n"}
}

func TestCheckerReverts(t *testing.T) {
	images := map[string]string{"cart": "r/cart", "ledger": "r/ledger"}
	tests := []struct {
		name    string
		commits []gitops.Commit
		values  map[string]map[string]string
		holds   string
		want    []string // held services
	}{
		{
			name:    "automator wrote last",
			commits: []gitops.Commit{bot("c2", "c1", "cart"), human("c1", "c0")},
			values:  map[string]map[string]string{"c2": {"cart": "1.3.0", "ledger": "1.0.0"}, "c1": {"cart": "1.2.0", "ledger": "1.0.0"}},
		},
		{
			name:    "a person reverted cart; ledger untouched",
			commits: []gitops.Commit{human("c3", "c2"), bot("c2", "c1", "cart", "ledger"), human("c1", "c0")},
			values: map[string]map[string]string{"c3": {"cart": "1.2.0", "ledger": "1.1.0"}, "c2": {"cart": "1.3.0", "ledger": "1.1.0"},
				"c1": {"cart": "1.2.0", "ledger": "1.0.0"}},
			want: []string{"cart"},
		},
		{
			name:    "a person moved cart forward: not a revert",
			commits: []gitops.Commit{human("c3", "c2"), bot("c2", "c1", "cart"), human("c1", "c0")},
			values:  map[string]map[string]string{"c3": {"cart": "1.4.0"}, "c2": {"cart": "1.3.0"}, "c1": {"cart": "1.2.0"}},
		},
		{
			name:    "the revert was released",
			commits: []gitops.Commit{human("c3", "c2"), bot("c2", "c1", "cart"), human("c1", "c0")},
			values:  map[string]map[string]string{"c3": {"cart": "1.2.0"}, "c2": {"cart": "1.3.0"}, "c1": {"cart": "1.2.0"}},
			holds:   "releases:\n  - {environment: prod, service: cart, reverted: c2}\n",
		},
		{
			name:    "a released revert of an older promotion does not release a new one",
			commits: []gitops.Commit{human("c5", "c4"), bot("c4", "c3", "cart"), human("c3", "c2"), bot("c2", "c1", "cart"), human("c1", "c0")},
			values: map[string]map[string]string{"c5": {"cart": "1.2.0"}, "c4": {"cart": "1.3.0"}, "c3": {"cart": "1.2.0"},
				"c2": {"cart": "1.3.0"}, "c1": {"cart": "1.2.0"}},
			holds: "releases:\n  - {environment: prod, service: cart, reverted: c2}\n",
			want:  []string{"cart"},
		},
		{
			name:    "an explicit hold, whatever the history",
			commits: []gitops.Commit{bot("c2", "c1", "cart", "ledger")},
			values:  map[string]map[string]string{"c2": {"cart": "1.3.0", "ledger": "1.1.0"}},
			holds:   "holds:\n  - {environment: prod, service: ledger, by: bob, reason: audit}\n  - {environment: dev, reason: other env}\n",
			want:    []string{"ledger"},
		},
		{
			name:    "no automator history: people manage it",
			commits: []gitops.Commit{human("c2", "c1"), human("c1", "c0")},
			values:  map[string]map[string]string{"c2": {"cart": "1.2.0"}, "c1": {"cart": "1.3.0"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := &fakeRepo{commits: tt.commits, values: tt.values}
			if tt.holds != "" {
				repo.holds = []byte(tt.holds)
			}
			c := &Checker{Reader: repo}
			hs, err := c.Held(context.Background(), prod, images)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hs {
				got = append(got, h.Service)
				if h.Reverted != "" && !strings.Contains(h.Reason, "pins 1.2.0, a revert of 1.3.0 that automator promoted in "+h.Reverted) {
					t.Errorf("reason %q does not say what was reverted", h.Reason)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("held %v, want %v (%+v)", got, tt.want, hs)
			}
		})
	}
}

func TestCheckerSaysItOnce(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	repo := &fakeRepo{commits: []gitops.Commit{human("c3", "c2"), bot("c2", "c1", "cart"), human("c1", "c0")},
		values: map[string]map[string]string{"c3": {"cart": "1.2.0"}, "c2": {"cart": "1.3.0"}, "c1": {"cart": "1.2.0"}}}
	c := &Checker{Reader: repo, Logger: zap.New(core)}
	for range 3 {
		if _, err := c.Held(context.Background(), prod, map[string]string{"cart": "r/cart"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := logs.FilterLevelExact(zap.InfoLevel).Len(); n != 1 {
		t.Errorf("%d Info lines over 3 checks, want 1", n)
	}
	if n := logs.FilterLevelExact(zap.DebugLevel).Len(); n != 2 {
		t.Errorf("%d Debug lines over 3 checks, want 2", n)
	}
	// Values at commits are read once: only the head is read again.
	if repo.reads != 3+2 {
		t.Errorf("%d reads of values, want 5 (3 heads, 2 commits cached)", repo.reads)
	}
}
