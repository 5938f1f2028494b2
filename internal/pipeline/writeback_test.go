package pipeline

import (
	"errors"
	"slices"
	"testing"

	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

func TestWriteStageRun(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	updates := []gitops.Update{{Service: "web", Repository: "ghcr.io/acme/web", Tag: "1.4.0", Digest: digestOfService("web").String()}}
	devFailure := errors.New("dev/values.yaml: no image of web")
	p := &fakePromoter{
		results: map[string]*gitops.Result{
			"staging": {Env: "staging", PR: &gitops.PullRequest{Number: 12, URL: "https://github.com/acme/manifests/pull/12", Branch: "automator/staging", Created: true}},
			"prod":    {Env: "prod", PR: &gitops.PullRequest{Number: 13, URL: "https://github.com/acme/manifests/pull/13", Branch: "automator/prod", Updated: true}},
		},
		errs: map[string]error{"dev": devFailure},
	}
	w := &WriteStage{Promoter: p}
	envs := []*promote.Target{env(t, cfg, "dev"), env(t, cfg, "staging"), env(t, cfg, "prod")}
	out := w.Run(t.Context(), envs, updates)

	wantCalls := []promoteCall{
		{Env: "dev", Explicit: updates},
		{Env: "staging", Explicit: updates},
		{Env: "prod", From: "staging"},
	}
	if !slices.EqualFunc(p.calls, wantCalls, func(a, b promoteCall) bool {
		return a.Env == b.Env && a.From == b.From && slices.EqualFunc(a.Explicit, b.Explicit, equalUpdate)
	}) {
		t.Errorf("Promote calls = %+v\nwant %+v", p.calls, wantCalls)
	}
	if len(out) != 3 || out[0].Env != "dev" || !errors.Is(out[0].Err, devFailure) || out[0].Result != nil {
		t.Fatalf("outcomes = %+v, want dev's failure first", out)
	}
	if out[1].Env != "staging" || out[1].Err != nil || out[1].Result != p.results["staging"] {
		t.Errorf("staging outcome = %+v: a failing environment must not stop the next", out[1])
	}
	if out[2].Env != "prod" || out[2].Err != nil || out[2].Result != p.results["prod"] {
		t.Errorf("prod outcome = %+v", out[2])
	}
}

// A release run (Published) hands an environment with promoteFrom the run's
// images, for it to keep those its upstream runs; with none published it
// writes nothing rather than everything upstream runs.
func TestWriteStagePublished(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	updates := []gitops.Update{{Service: "web", Repository: "ghcr.io/acme/web", Tag: "1.4.0", Digest: digestOfService("web").String()}}
	p := &fakePromoter{}
	w := &WriteStage{Promoter: p, Published: true}
	w.Run(t.Context(), []*promote.Target{env(t, cfg, "rc"), env(t, cfg, "prod")}, updates)
	if len(p.calls) != 2 || p.calls[0].Upstream || !p.calls[1].Upstream || p.calls[1].From != "staging" || !slices.EqualFunc(p.calls[1].Explicit, updates, equalUpdate) {
		t.Errorf("calls = %+v, want rc given the updates and prod the published images to match against staging", p.calls)
	}
	p.calls = nil
	if out := w.Run(t.Context(), []*promote.Target{env(t, cfg, "prod")}, nil); len(out) != 0 || len(p.calls) != 0 {
		t.Errorf("nothing published: outcomes %+v, calls %+v; want nothing written", out, p.calls)
	}
}

func TestWriteStageNothingToWrite(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	p := &fakePromoter{}
	w := &WriteStage{Promoter: p}
	out := w.Run(t.Context(), []*promote.Target{env(t, cfg, "dev"), env(t, cfg, "prod"), env(t, cfg, "rc")}, nil)
	if len(p.calls) != 1 || p.calls[0].Env != "prod" || p.calls[0].From != "staging" || p.calls[0].Explicit != nil {
		t.Errorf("calls = %+v, want only prod promoted from staging", p.calls)
	}
	if len(out) != 1 || out[0].Env != "prod" {
		t.Errorf("outcomes = %+v, want environments without updates skipped", out)
	}
	if err := Err(out); err != nil {
		t.Errorf("Err = %v, want nil", err)
	}
}

func TestDeliverResults(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	scanned := &Image{Service: "web", Image: "ghcr.io/acme/web", Tags: []string{"1.4.0"}, Digest: digestOfService("web").String(), Pushed: true}
	scanned.Report = report(scanned.Image + "@" + scanned.Digest)
	unscanned := &Image{Service: "api", Image: "ghcr.io/acme/api", Digest: digestOfService("api").String(), Pushed: true}
	images := []*Image{scanned, unscanned}
	g := &Gate{}
	p := &fakePromoter{}

	done := DeliverResults(t.Context(), g, p, []*promote.Target{env(t, cfg, "dev")}, images, nil)

	if got := g.report(scanned.Digest); got != scanned.Report {
		t.Errorf("gate's report of %s = %v, want the one the result file carried", scanned.Digest, got)
	}
	if got := g.report(unscanned.Digest); got != nil {
		t.Errorf("gate's report of %s = %v, want none", unscanned.Digest, got)
	}
	wantCalls := []promoteCall{{Env: "dev", Explicit: Updates(images, true)}}
	if !slices.EqualFunc(p.calls, wantCalls, func(a, b promoteCall) bool {
		return a.Env == b.Env && slices.EqualFunc(a.Explicit, b.Explicit, equalUpdate)
	}) {
		t.Errorf("Promote calls = %+v\nwant %+v", p.calls, wantCalls)
	}
	if len(done.Envs) != 1 || done.Envs[0].Env != "dev" || !slices.Equal(done.Images, images) {
		t.Errorf("delivered = %+v, want dev's outcome and the images", done)
	}
}
