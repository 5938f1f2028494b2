package promote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/freeze"
	"github.com/deployment-automator/automator/internal/gitops"
)

// TestFreezeWindowWithInjectedClock: inside a window a commit-mode
// environment is not written (the result says until when); an override
// writes, its reason in the trailer; after the window it writes.
func TestFreezeWindowWithInjectedClock(t *testing.T) {
	repo := manifestsRepo(t, values)
	w, err := gitops.NewLocalWriter([]gitops.Option{gitops.WithAuthor("t", "t@example.com")}, gitops.WithPusher(gitops.DryRunPusher{}))
	if err != nil {
		t.Fatal(err)
	}
	win, err := freeze.Parse("0 18 * * 5", "63h", "Europe/Berlin", "weekend")
	if err != nil {
		t.Fatal(err)
	}
	env := config.Environment{Name: "dev", Repo: repo, Branch: "main", Files: []string{"envs/*/values.yaml"}, Mode: "commit"}
	target := &Target{Env: env, Freeze: freeze.Windows{win}}
	u := gitops.Update{Service: "cart", Repository: "prod.example/acme/cart", Tag: "1.1.0", Digest: digest("a")}
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	monday := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

	tests := []struct {
		name       string
		now        time.Time
		override   string
		commit     bool
		wantInMsg  string
		wantFrozen bool
	}{
		{name: "frozen", now: saturday, wantFrozen: true},
		{name: "override", now: saturday, override: "INC-7 hotfix", commit: true, wantInMsg: "Automator-Freeze-Override: INC-7 hotfix"},
		{name: "after the window", now: monday, commit: true, wantInMsg: "Automator-Service: cart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Promoter{Writer: w, Now: func() time.Time { return tt.now }, Override: tt.override}
			res, err := p.Promote(context.Background(), target, []gitops.Update{u})
			if err != nil {
				t.Fatal(err)
			}
			if (res.Commit != "") != tt.commit || (res.Frozen != nil) != tt.wantFrozen {
				t.Fatalf("commit %q frozen %+v; want commit %v frozen %v", res.Commit, res.Frozen, tt.commit, tt.wantFrozen)
			}
			if tt.wantFrozen && !res.Frozen.Until.Equal(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)) {
				t.Errorf("frozen until %s, want Monday 09:00 Berlin", res.Frozen.Until)
			}
			if !strings.Contains(res.Message, tt.wantInMsg) {
				t.Errorf("message lacks %q:\n%s", tt.wantInMsg, res.Message)
			}
		})
	}
}

// fakeSince answers since when the upstream runs every service.
type fakeSince struct{ since time.Time }

func (f fakeSince) Since(context.Context, config.Environment, string, string) (time.Time, bool, error) {
	return f.since, true, nil
}

func TestSoakedSplitsCandidates(t *testing.T) {
	ran := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	up := &Target{Env: config.Environment{Name: "staging"}}
	target := &Target{Env: config.Environment{Name: "prod"}, From: up, Soak: 24 * time.Hour}
	cands := []gitops.Update{{Service: "cart", Digest: digest("a"), PromotedFrom: "staging"}}
	for _, tt := range []struct {
		now   time.Time
		ready bool
	}{{ran.Add(23 * time.Hour), false}, {ran.Add(24 * time.Hour), true}} {
		p := &Promoter{Since: fakeSince{ran}, Now: func() time.Time { return tt.now }}
		ready, soaking, err := p.soaked(context.Background(), target, cands)
		if err != nil {
			t.Fatal(err)
		}
		if (len(ready) == 1) != tt.ready || (len(soaking) == 1) == tt.ready {
			t.Fatalf("at %s: ready %v soaking %v", tt.now, ready, soaking)
		}
		if !tt.ready && !strings.Contains(soaking[0].Reason, "eligible at 2026-11-27T00:00:00Z") {
			t.Errorf("soaking reason %q names no eligibility time", soaking[0].Reason)
		}
	}
	// An explicit image (--set, no PromotedFrom) is a human's choice: no soak.
	p := &Promoter{Since: fakeSince{ran}, Now: func() time.Time { return ran }}
	ready, soaking, err := p.soaked(context.Background(), target, []gitops.Update{{Service: "cart", Digest: digest("a")}})
	if err != nil || len(ready) != 1 || len(soaking) != 0 {
		t.Fatalf("explicit image: ready %v soaking %v err %v", ready, soaking, err)
	}
}
