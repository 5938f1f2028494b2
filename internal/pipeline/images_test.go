package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// stage wires a BuildStage of fakes; cart is CRITICAL-vulnerable.
type stageFixture struct {
	stage   *BuildStage
	builder *fakeBuilder
	scanner *fakeScanner
	layouts *layouts
	pusher  *fakePusher
	plans   []build.Plan
	out     string
}

func newStage(t *testing.T, services ...string) *stageFixture {
	t.Helper()
	if len(services) == 0 {
		services = []string{"api", "cart", "web"}
	}
	f := &stageFixture{
		builder: &fakeBuilder{},
		scanner: &fakeScanner{findings: map[string][]gate.Finding{"ghcr.io/acme/cart": {criticalFinding, mediumFinding}}},
		layouts: &layouts{},
		pusher:  &fakePusher{},
		out:     t.TempDir(),
	}
	for _, s := range services {
		f.plans = append(f.plans, plan(f.out, s))
	}
	f.stage = &BuildStage{
		Builder:     f.builder,
		OpenLayout:  f.layouts.open,
		Gate:        &Gate{Scanner: f.scanner, Default: scanPolicy(t, parseConfig(t, testConfig)), Now: func() time.Time { return testNow }, Open: noRemote(t)},
		Pusher:      f.pusher,
		Logger:      zap.NewNop(),
		Parallelism: 2,
		Now:         func() time.Time { return testNow },
	}
	return f
}

// noRemote fails the test when the gate pulls an image it should have
// found among its reports.
func noRemote(t *testing.T) RemoteOpener {
	return func(ctx context.Context, ref string) (v1.Image, error) {
		t.Errorf("the gate opened %s remotely; its report should have been reused", ref)
		return nil, errors.New("no remote in this test")
	}
}

func (f *stageFixture) dir(service string) string { return filepath.Join(f.out, service) }

func imageByService(t *testing.T, images []*Image, service string) *Image {
	t.Helper()
	for _, im := range images {
		if im.Service == service {
			return im
		}
	}
	t.Fatalf("no image of %s among %d", service, len(images))
	return nil
}

func services(images []*Image) []string {
	out := []string{}
	for _, im := range images {
		out = append(out, im.Service)
	}
	return out
}

func TestBuildStageBlockedForSomeTargets(t *testing.T) {
	f := newStage(t)
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev", "prod"), &gitops.Source{Repo: "acme/app", To: "abc123"})
	if err != nil {
		t.Fatalf("Run = %v, want nil: cart is allowed into dev", err)
	}
	if got := services(images); !slices.Equal(got, []string{"api", "cart", "web"}) {
		t.Fatalf("images = %v, want plan order", got)
	}
	cart := imageByService(t, images, "cart")
	if !cart.Pushed || !slices.Equal(cart.Allowed, []string{"dev"}) || !slices.Equal(cart.Blocked, []string{"prod"}) {
		t.Errorf("cart pushed=%v allowed=%v blocked=%v, want pushed, [dev], [prod]", cart.Pushed, cart.Allowed, cart.Blocked)
	}
	if len(cart.Verdicts) != 2 || cart.Verdicts[0].Outcome != gate.Warn || cart.Verdicts[1].Outcome != gate.Block {
		t.Errorf("cart verdicts = %+v, want warn (dev), block (prod)", cart.Verdicts)
	}
	if cart.Report == nil || cart.Report.Image.Ref != "ghcr.io/acme/cart@"+digestOfService("cart").String() {
		t.Errorf("cart report = %+v, want the report of the built digest", cart.Report)
	}
	for _, s := range []string{"api", "web"} {
		im := imageByService(t, images, s)
		if !im.Pushed || !slices.Equal(im.Allowed, []string{"dev", "prod"}) || len(im.Blocked) != 0 {
			t.Errorf("%s pushed=%v allowed=%v blocked=%v, want pushed into both", s, im.Pushed, im.Allowed, im.Blocked)
		}
	}
	for _, im := range images {
		if im.Digest != digestOfService(im.Service).String() || im.Source == nil || im.Source.To != "abc123" || !im.BuiltAt.Equal(testNow) {
			t.Errorf("%s digest=%s source=%+v builtAt=%s", im.Service, im.Digest, im.Source, im.BuiltAt)
		}
		if im.Layout != "" {
			t.Errorf("%s layout = %q without KeepLayouts", im.Service, im.Layout)
		}
	}
	pushed := f.pusher.pushedDirs()
	slices.Sort(pushed)
	if want := []string{f.dir("api"), f.dir("cart"), f.dir("web")}; !slices.Equal(pushed, want) {
		t.Errorf("pushed %v, want %v", pushed, want)
	}
	if f.scanner.count() != 3 {
		t.Errorf("scanner called %d times, want once per image", f.scanner.count())
	}
	for _, c := range f.pusher.calls {
		if c.Dir == f.dir("cart") {
			if c.Digest != digestOfService("cart") || len(c.Repos) != 2 || !slices.Equal(c.Tags, []string{"sha-0123456", "1.4.0"}) {
				t.Errorf("cart push = %+v, want its digest, both repositories and tags", c)
			}
			if len(cart.References) != 4 || !strings.HasPrefix(cart.References[0], "ghcr.io/acme/cart:sha-0123456@sha256:") {
				t.Errorf("cart references = %v", cart.References)
			}
		}
	}
}

func TestBuildStageBlockedForEveryTarget(t *testing.T) {
	f := newStage(t)
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "prod"), nil)
	var be *gate.BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("Run = %v, want *BlockedError", err)
	}
	if !errors.Is(err, gate.ErrBlocked) || len(be.Images) != 1 || be.Images[0].Service != "cart" {
		t.Errorf("BlockedError = %v (blocked %v), want cart only, exit 3 (gate.ErrBlocked)", be, errors.Is(err, gate.ErrBlocked))
	}
	if !strings.Contains(err.Error(), "cart@sha256:") || !strings.Contains(err.Error(), "blocked for prod") {
		t.Errorf("error %q should name the service, digest and environment", err)
	}
	cart := imageByService(t, images, "cart")
	if cart.Pushed || len(cart.References) != 0 || !slices.Equal(cart.Blocked, []string{"prod"}) || len(cart.Allowed) != 0 {
		t.Errorf("cart = %+v, want blocked for prod and not pushed", cart)
	}
	if len(images) != 3 {
		t.Errorf("images = %v, want all three (blocked ones are reported)", services(images))
	}
	if slices.Contains(f.pusher.pushedDirs(), f.dir("cart")) || len(f.pusher.calls) != 2 {
		t.Errorf("pushed %v, want api and web only", f.pusher.pushedDirs())
	}
}

func TestBuildStageBuildFailure(t *testing.T) {
	f := newStage(t)
	cause := errors.New("exit status 1: COPY failed")
	f.builder.fail = map[string]error{"api": cause}
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "prod"), nil)
	var fe *build.FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Run = %v, want *build.FailedError (exit 1 beats the block of cart)", err)
	}
	if len(fe.Failed) != 1 || !errors.Is(fe.Failed["api"], cause) {
		t.Errorf("FailedError = %v, want api failed with its cause", fe)
	}
	if !slices.Equal(fe.Succeeded, []string{"cart", "web"}) {
		t.Errorf("succeeded = %v, want cart and web", fe.Succeeded)
	}
	if got := services(images); !slices.Equal(got, []string{"cart", "web"}) {
		t.Errorf("images = %v, want the two that built", got)
	}
	if web := imageByService(t, images, "web"); !web.Pushed {
		t.Error("web was not pushed although only api failed")
	}
	if cart := imageByService(t, images, "cart"); cart.Pushed || !slices.Equal(cart.Blocked, []string{"prod"}) {
		t.Errorf("cart = %+v, want still gated", cart)
	}
}

func TestBuildStageStageFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *stageFixture)
		wantInErr string
		wantImage bool // the failed service still reports its built image
	}{
		{
			name:      "scan error",
			setup:     func(f *stageFixture) { f.scanner.fail = map[string]error{"ghcr.io/acme/web": errors.New("db too old")} },
			wantInErr: "scanning web: db too old",
			wantImage: true,
		},
		{
			name: "layout cannot be opened",
			setup: func(f *stageFixture) {
				f.stage.OpenLayout = func(dir string) (v1.Image, error) {
					if strings.HasSuffix(dir, "web") {
						return nil, errors.New("index.json missing")
					}
					return f.layouts.open(dir)
				}
			},
			wantInErr: "opening the built image of web: index.json missing",
			wantImage: true,
		},
		{
			name:      "push error",
			setup:     func(f *stageFixture) { f.pusher.fail = map[string]error{f.dir("web"): errors.New("401 unauthorized")} },
			wantInErr: "pushing web: 401 unauthorized",
			wantImage: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStage(t)
			tt.setup(f)
			images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil)
			var fe *build.FailedError
			if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed["web"] == nil {
				t.Fatalf("Run = %v, want *build.FailedError for web only", err)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("error %q lacks %q", err, tt.wantInErr)
			}
			web := slices.IndexFunc(images, func(im *Image) bool { return im.Service == "web" })
			if (web >= 0) != tt.wantImage || (web >= 0 && images[web].Pushed) {
				t.Errorf("web among images: %v, want %v and not pushed", web >= 0, tt.wantImage)
			}
			for _, s := range []string{"api", "cart"} {
				if !imageByService(t, images, s).Pushed {
					t.Errorf("%s not pushed although only web failed", s)
				}
			}
		})
	}
}

func TestBuildStageScanningDisabled(t *testing.T) {
	f := newStage(t)
	f.stage.Gate.Scanner = nil
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev", "prod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.pusher.calls) != 3 || len(f.layouts.opened) != 0 || f.scanner.count() != 0 {
		t.Errorf("pushes %d, layouts opened %d, scans %d: want 3, 0, 0", len(f.pusher.calls), len(f.layouts.opened), f.scanner.count())
	}
	for _, im := range images {
		if !im.Pushed || im.Report != nil || len(im.Verdicts) != 0 || len(im.Blocked) != 0 || !slices.Equal(im.Allowed, []string{"dev", "prod"}) {
			t.Errorf("%s = %+v, want pushed unscanned, allowed everywhere", im.Service, im)
		}
	}
	// A nil gate works the same.
	f = newStage(t)
	f.stage.Gate = nil
	if _, err := f.stage.Run(t.Context(), f.plans, nil, nil); err != nil || len(f.pusher.calls) != 3 {
		t.Errorf("nil gate: err %v, %d pushes; want nil and 3", err, len(f.pusher.calls))
	}
}

func TestBuildStageDefaultPolicy(t *testing.T) {
	tests := []struct {
		name        string
		policy      string
		wantErr     bool
		wantPushed  bool
		wantOutcome gate.Outcome
	}{
		{"block on critical", "failOn: [CRITICAL]\n    mode: block", true, false, gate.Block},
		{"warn on critical", "failOn: [CRITICAL]\n    mode: warn", false, true, gate.Warn},
		{"failOn HIGH with one CRITICAL allowed", "failOn: [HIGH]\n    maxCount: {CRITICAL: 1}", false, true, gate.Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newStage(t)
			f.stage.Gate.Default = scanPolicy(t, parseConfig(t, "version: 1\nscan:\n  policy:\n    "+tt.policy+"\n"))
			images, err := f.stage.Run(t.Context(), f.plans, nil, nil)
			var be *gate.BlockedError
			if errors.As(err, &be) != tt.wantErr || (err != nil && be == nil) {
				t.Fatalf("Run = %v, want blocked: %v", err, tt.wantErr)
			}
			cart := imageByService(t, images, "cart")
			if cart.Pushed != tt.wantPushed || len(cart.Verdicts) != 1 || cart.Verdicts[0].Outcome != tt.wantOutcome || cart.Verdicts[0].Env != "default" {
				t.Errorf("cart pushed=%v verdicts=%+v, want pushed=%v and one %s verdict of the default policy", cart.Pushed, cart.Verdicts, tt.wantPushed, tt.wantOutcome)
			}
			if api := imageByService(t, images, "api"); !api.Pushed {
				t.Error("api (no findings) was not pushed")
			}
		})
	}
}

func TestGateReusesBuildReports(t *testing.T) {
	f := newStage(t)
	cfg := parseConfig(t, testConfig)
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev", "prod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	scans := f.scanner.count()
	cart := imageByService(t, images, "cart")
	sum, ok, err := f.stage.Gate.Check(t.Context(), env(t, cfg, "prod"), cart.Image+"@"+cart.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if ok || sum.Verdict != "fail" || len(sum.Blocking) != 1 || sum.Blocking[0].ID != criticalFinding.ID || sum.Counts["CRITICAL"] != 1 || sum.Counts["MEDIUM"] != 1 {
		t.Errorf("prod check of cart = %+v ok=%v, want fail on %s", sum, ok, criticalFinding.ID)
	}
	sum, ok, err = f.stage.Gate.Check(t.Context(), env(t, cfg, "dev"), cart.Image+"@"+cart.Digest)
	if err != nil || !ok || sum.Verdict != "warn" {
		t.Errorf("dev check of cart = %+v ok=%v err=%v, want warn and allowed", sum, ok, err)
	}
	api := imageByService(t, images, "api")
	if _, ok, err := f.stage.Gate.Check(t.Context(), env(t, cfg, "prod"), api.Image+"@"+api.Digest); err != nil || !ok {
		t.Errorf("prod check of api = %v, %v; want allowed", ok, err)
	}
	if f.scanner.count() != scans {
		t.Errorf("the gate scanned again: %d scans after checks, %d after the build", f.scanner.count(), scans)
	}
}

func TestGateScansRemoteOncePerDigest(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	scanner := &fakeScanner{findings: map[string][]gate.Finding{"ghcr.io/acme/cart": {criticalFinding}}}
	var opened []string
	g := &Gate{Scanner: scanner, Now: func() time.Time { return testNow }, Open: func(ctx context.Context, ref string) (v1.Image, error) {
		opened = append(opened, ref)
		return (&layouts{}).open(ref)
	}}
	ref := "ghcr.io/acme/cart@" + digestOfService("cart").String()
	for range 2 {
		if _, ok, err := g.Check(t.Context(), env(t, cfg, "prod"), ref); err != nil || ok {
			t.Fatalf("Check = %v, %v; want blocked", ok, err)
		}
	}
	if !slices.Equal(opened, []string{ref}) || scanner.count() != 1 {
		t.Errorf("opened %v, %d scans; want one pull and one scan", opened, scanner.count())
	}

	// Another repository with the same digest (a mirror) reuses the report.
	if _, ok, err := g.Check(t.Context(), env(t, cfg, "dev"), "registry.example.com/acme/cart@"+digestOfService("cart").String()); err != nil || !ok || scanner.count() != 1 {
		t.Errorf("mirror check: ok=%v err=%v scans=%d; want allowed (dev warns) with no new scan", ok, err, scanner.count())
	}

	// An index digest remembered with its platform image's report.
	index := digestOfService("cart-index").String()
	g.Remember(report(ref, criticalFinding), index)
	if _, ok, err := g.Check(t.Context(), env(t, cfg, "prod"), "ghcr.io/acme/cart@"+index); err != nil || ok || scanner.count() != 1 {
		t.Errorf("index check: ok=%v err=%v scans=%d; want blocked with no new scan", ok, err, scanner.count())
	}
}

func TestGateCheckErrors(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	ref := "ghcr.io/acme/web@" + digestOfService("web").String()

	g := &Gate{}
	sum, ok, err := g.Check(t.Context(), env(t, cfg, "prod"), ref)
	if err != nil || !ok || sum.Verdict != "skipped" {
		t.Errorf("scanning disabled: %+v %v %v, want skipped and allowed", sum, ok, err)
	}

	g = &Gate{Scanner: &fakeScanner{}}
	if _, ok, err := g.Check(t.Context(), env(t, cfg, "prod"), ref); err == nil || ok || !strings.Contains(err.Error(), ref) {
		t.Errorf("no opener: ok=%v err=%v, want an error naming %s", ok, err, ref)
	}

	g.Open = func(ctx context.Context, ref string) (v1.Image, error) { return nil, errors.New("manifest unknown") }
	if _, _, err := g.Check(t.Context(), env(t, cfg, "prod"), ref); err == nil || !strings.Contains(err.Error(), "opening "+ref) || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("open failure: err = %v", err)
	}

	// An unknown environment cannot reach the gate: targets are resolved
	// once, and resolving an unknown name is the error that names it.
	all, err := promote.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.Lookup("qa"); err == nil || !strings.Contains(err.Error(), `"qa"`) {
		t.Errorf("unknown environment: err = %v, want it named", err)
	}
}

func TestBuildStageWithoutPusher(t *testing.T) {
	f := newStage(t)
	f.stage.Pusher = nil
	f.stage.KeepLayouts = true
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		if im.Pushed || len(im.References) != 0 {
			t.Errorf("%s pushed without a pusher", im.Service)
		}
		if im.Layout != f.dir(im.Service) {
			t.Errorf("%s layout = %q, want %q with KeepLayouts", im.Service, im.Layout, f.dir(im.Service))
		}
	}
	if f.scanner.count() != 3 {
		t.Errorf("scans = %d, want 3: build-only still scans", f.scanner.count())
	}
}

func TestBuildStageParallelism(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		f := newStage(t, "a", "b", "c", "d", "e", "f", "g")
		f.stage.Parallelism = n
		f.builder.barrier, f.builder.total = n, len(f.plans)
		images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(images) != 7 || len(f.builder.built) != 7 {
			t.Errorf("parallelism %d: %d images, %d builds; want 7", n, len(images), len(f.builder.built))
		}
		if f.builder.maxInFlight != n {
			t.Errorf("parallelism %d: at most %d builds ran at once, want exactly %d", n, f.builder.maxInFlight, n)
		}
	}
}

func TestBuildStageGroup(t *testing.T) {
	f := newStage(t)
	var grouped []string
	f.stage.Parallelism = 1
	f.stage.Group = func(service string, work func(log *zap.Logger) error) error {
		grouped = append(grouped, service)
		return work(zap.NewNop())
	}
	if _, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(grouped)
	if !slices.Equal(grouped, []string{"api", "cart", "web"}) || len(f.pusher.calls) != 3 {
		t.Errorf("grouped %v with %d pushes, want each service's work in its group", grouped, len(f.pusher.calls))
	}
}

func TestUpdates(t *testing.T) {
	at := func(h int) time.Time { return testNow.Add(time.Duration(h) * time.Hour) }
	src := &gitops.Source{Repo: "acme/app", From: "aaa", To: "bbb"}
	images := []*Image{
		{Service: "web", Image: "ghcr.io/acme/web", Tags: []string{"sha-1", "1.0.0"}, Digest: "sha256:w1", Pushed: true, BuiltAt: at(1)},
		{Service: "web", Image: "ghcr.io/acme/web", Tags: []string{"sha-2", "1.1.0"}, Digest: "sha256:w2", Pushed: true, BuiltAt: at(3), Source: src},
		{Service: "web", Image: "ghcr.io/acme/web", Tags: []string{"sha-0", "0.9.0"}, Digest: "sha256:w0", Pushed: true, BuiltAt: at(2)},
		{Service: "cart", Image: "ghcr.io/acme/cart", Tags: []string{"sha-1", "2.0.0"}, Digest: "sha256:c1", Blocked: []string{"prod"}, BuiltAt: at(1)},
		{Service: "api", Image: "ghcr.io/acme/api", Tags: []string{"sha-1", "3.0.0"}, Digest: "sha256:a1", BuiltAt: at(5)},
		{Service: "auth", Image: "ghcr.io/acme/auth", Digest: "sha256:x1", Pushed: true, BuiltAt: at(1)},
	}
	got := Updates(images, true)
	want := []gitops.Update{
		{Service: "auth", Repository: "ghcr.io/acme/auth", Digest: "sha256:x1", At: at(1)},
		{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "2.0.0", Digest: "sha256:c1", At: at(1)},
		{Service: "web", Repository: "ghcr.io/acme/web", Tag: "1.1.0", Digest: "sha256:w2", Source: src, At: at(3)},
	}
	if !slices.EqualFunc(got, want, equalUpdate) {
		t.Errorf("Updates(requirePushed) =\n%+v\nwant\n%+v", got, want)
	}

	got = Updates(images, false)
	want = append([]gitops.Update{{Service: "api", Repository: "ghcr.io/acme/api", Tag: "3.0.0", Digest: "sha256:a1", At: at(5)}}, want...)
	if !slices.EqualFunc(got, want, equalUpdate) {
		t.Errorf("Updates(dry run) =\n%+v\nwant\n%+v", got, want)
	}

	if got := Updates(nil, true); got == nil || len(got) != 0 {
		t.Errorf("Updates(nil) = %#v, want an empty slice", got)
	}
}

func equalUpdate(a, b gitops.Update) bool {
	return a.Service == b.Service && a.Repository == b.Repository && a.Tag == b.Tag && a.Digest == b.Digest &&
		a.Source == b.Source && a.At.Equal(b.At) && a.Scan == nil && b.Scan == nil && a.PromotedFrom == b.PromotedFrom
}
