package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/watch"
	"github.com/deployment-automator/automator/internal/webhook"
)

// The promotion side of these tests is a hand-written manifests repository:
// the write-back adapter (watch.WriteBack over promote.Promoter) is exercised
// by the write-back e2e tests and watch's unit tests; here the registry side
// is real.

type manifestsRepo struct {
	mu      sync.Mutex
	pins    map[string][2]string // env/image → tag, digest
	commits []string             // one entry per landed promotion
	started chan string
	release chan struct{}
}

func newManifestsRepo() *manifestsRepo {
	return &manifestsRepo{pins: map[string][2]string{}, started: make(chan string, 100)}
}

func (m *manifestsRepo) pin(env, image, tag, digest string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pins[env+"/"+image] = [2]string{tag, digest}
}

func (m *manifestsRepo) Current(_ context.Context, env, image string) (string, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pins[env+"/"+image]
	if !ok {
		return "", "", watch.ErrNotDeployed
	}
	return p[0], p[1], nil
}

func (m *manifestsRepo) Promote(ctx context.Context, env string, u watch.Update) (watch.Outcome, error) {
	m.started <- env + ":" + u.Tag
	if m.release != nil {
		select {
		case <-m.release:
		case <-ctx.Done():
			return watch.Outcome{}, fmt.Errorf("abandoned before the ref moved: %w", ctx.Err())
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := env + "/" + u.Image
	if p := m.pins[key]; p[0] == u.Tag && p[1] == u.Digest {
		return watch.Outcome{Result: watch.Unchanged}, nil
	}
	m.pins[key] = [2]string{u.Tag, u.Digest}
	m.commits = append(m.commits, env+" "+u.Ref())
	return watch.Outcome{Result: watch.Promoted}, nil
}

func (m *manifestsRepo) landed() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.commits...)
}

type watchWorld struct {
	reg  *harness.Registry
	man  *manifestsRepo
	w    *watch.Watcher
	logs *observer.ObservedLogs
}

func newWatchWorld(t testing.TB, interval string, rules ...config.WatchRule) *watchWorld {
	t.Helper()
	reg := harness.StartRegistry(t, harness.WithBasicAuth("ci", "s3cret"))
	ww := &watchWorld{reg: reg, man: newManifestsRepo()}
	for i := range rules {
		rules[i].Image = reg.Ref(rules[i].Image)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	ww.logs = logs
	log := zap.New(core)
	m, err := watch.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rr, err := registry.New(registry.WithKeychain(hostKeychain{reg.Host: reg.Authenticator()}), registry.WithLogger(log),
		registry.WithRequestObserver(m.ObserveRegistryRequest), registry.WithDefaultRPS(2000))
	if err != nil {
		t.Fatal(err)
	}
	ww.w, err = watch.New(&config.Watch{Interval: interval, Concurrency: 4, MaxTags: 10000, Rules: rules},
		rr, ww.man, ww.man, watch.WithLogger(log), watch.WithMetrics(m), watch.WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	return ww
}

// hostKeychain hands out one authenticator per registry host.
type hostKeychain map[string]authn.Authenticator

func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[r.RegistryStr()]; ok {
		return a, nil
	}
	return authn.Anonymous, nil
}

// push uploads a small image to repo under tags and returns its digest.
func (ww *watchWorld) push(t testing.TB, repo string, tags ...string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return pushImage(t, ww.reg, img, repo, tags...)
}

func pushImage(t testing.TB, reg *harness.Registry, img v1.Image, repo string, tags ...string) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		ref, err := name.NewTag(reg.Ref(repo) + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithAuth(reg.Authenticator())); err != nil {
			t.Fatal(err)
		}
	}
	return d.String()
}

func rule(nameStr, repo, rng string, envs ...string) config.WatchRule {
	return config.WatchRule{Name: nameStr, Image: repo, Policy: config.TagPolicy{Semver: rng},
		Exclude: watch.DefaultExclude, Environments: envs}
}

func waitPromotion(t *testing.T, m *manifestsRepo, within time.Duration) string {
	t.Helper()
	select {
	case s := <-m.started:
		return s
	case <-time.After(within):
		t.Fatalf("no promotion within %s", within)
		return ""
	}
}

func TestWatchPollPromotesMatchingNewerTagsOnly(t *testing.T) {
	ww := newWatchWorld(t, "2s", rule("payments", "vendor/payments", ">=3.0.0 <4.0.0", "prod"))
	image := ww.reg.Ref("vendor/payments")
	d := ww.push(t, "vendor/payments", "3.3.0")
	ww.man.pin("prod", image, "3.3.0", d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ww.w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitReady(t, ww.w)

	ww.push(t, "vendor/payments", "4.0.0", "3.4.0-rc.1", "sha256-1234.sig") // none matches
	want := ww.push(t, "vendor/payments", "3.4.0")
	if got := waitPromotion(t, ww.man, 30*time.Second); got != "prod:3.4.0" {
		t.Fatalf("promoted %s, want prod:3.4.0", got)
	}
	if tag, _, _ := ww.man.Current(ctx, "prod", image); tag != "3.4.0" {
		t.Fatalf("prod runs %s, want 3.4.0", tag)
	}
	// An older semver pushed later never replaces the newer one.
	ww.push(t, "vendor/payments", "3.2.9")
	ww.reg.ResetRequests()
	waitCycles(t, ww.reg, 2)
	if got := ww.man.landed(); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("landed %q, want only 3.4.0@%s", got, want)
	}
}

func TestWatchSteadyStateRequests(t *testing.T) {
	var rules []config.WatchRule
	for i := range 4 {
		rules = append(rules, rule(fmt.Sprintf("app%d", i), fmt.Sprintf("team/app%d", i), "*", "dev"))
	}
	ww := newWatchWorld(t, "1h", rules...)
	for i := range 4 {
		repo := fmt.Sprintf("team/app%d", i)
		d := ww.push(t, repo, "1.0.0", "1.1.0")
		ww.man.pin("dev", ww.reg.Ref(repo), "1.1.0", d)
	}
	ww.reg.ResetRequests()
	const cycles = 3
	for range cycles {
		if _, err := ww.w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// The harness proxy records a request after its response went out; let it catch up.
	if got := settledCount(ww.reg, harness.KindTags, 4*cycles); got != 4*cycles {
		t.Errorf("%d tag-list requests in %d cycles over 4 repositories, want %d", got, cycles, 4*cycles)
	}
	if got := ww.reg.Count("", harness.KindManifest) + ww.reg.Count("", harness.KindBlob); got != 0 {
		t.Errorf("%d manifest/blob requests in steady state, want 0", got)
	}
}

func TestWatchWebhookStartsPromotionWithoutPoll(t *testing.T) {
	ww := newWatchWorld(t, "24h", rule("cart", "acme/cart", "*", "dev"))
	image := ww.reg.Ref("acme/cart")
	d := ww.push(t, "acme/cart", "1.0.0")
	ww.man.pin("dev", image, "1.0.0", d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ww.w.Run(ctx) }()
	defer cancel()
	waitReady(t, ww.w)

	secret := []byte("hook-secret")
	h, err := webhook.NewHandler(secret, ww.w)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ww.push(t, "acme/cart", "1.1.0")
	body := fmt.Appendf(nil, `{"events":[{"action":"push","timestamp":%q,"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"acme/cart","tag":"1.1.0"},"request":{"host":%q}}]}`,
		time.Now().Format(time.RFC3339Nano), ww.reg.Host)
	post := func(auth string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+webhook.PathPrefix+webhook.SourceDistribution, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("bad secret: %d, want 401", code)
	}
	if code := post(string(secret)); code != http.StatusAccepted {
		t.Fatalf("webhook: %d, want 202", code)
	}
	if got := waitPromotion(t, ww.man, 10*time.Second); got != "dev:1.1.0" {
		t.Fatalf("promoted %s, want dev:1.1.0", got)
	}
	for range 3 { // replays do no harm
		post(string(secret))
	}
	cancel()
	<-done
	if got := ww.man.landed(); len(got) != 1 {
		t.Errorf("landed %q after replays, want one promotion", got)
	}
}

func TestWatchHonoursRetryAfter(t *testing.T) {
	ww := newWatchWorld(t, "1h", rule("cart", "acme/cart", "*", "dev"))
	ww.man.pin("dev", ww.reg.Ref("acme/cart"), "1.0.0", "")
	ww.push(t, "acme/cart", "1.1.0")
	ww.reg.ResetRequests()
	h := http.Header{}
	h.Set("Retry-After", "2")
	ww.reg.InjectFault(t, harness.Fault{Method: http.MethodGet, Path: harness.RegistryTagsPath, Status: http.StatusTooManyRequests, Header: h})
	start := time.Now()
	if _, err := ww.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("cycle took %s: Retry-After: 2 was not honoured", took)
	}
	if len(ww.man.landed()) != 1 {
		t.Errorf("no promotion after the registry recovered")
	}
	if got := settledCount(ww.reg, harness.KindTags, 2); got != 2 {
		t.Errorf("%d tag-list requests, want 2 (the 429 and one retry)", got)
	}
	if n := ww.logs.FilterLevelExact(zapcore.ErrorLevel).Len() + ww.logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 0 {
		t.Errorf("%d warning/error log lines for one 429, want 0", n)
	}
	if n := ww.logs.FilterMessage("registry asked to slow down; waiting").Len(); n != 1 {
		t.Errorf("%d wait lines, want 1", n)
	}
}

func TestWatchSIGTERMMidCycle(t *testing.T) {
	ww := newWatchWorld(t, "1h", rule("cart", "acme/cart", "*", "dev", "staging"))
	image := ww.reg.Ref("acme/cart")
	ww.man.pin("dev", image, "1.0.0", "")
	ww.man.pin("staging", image, "1.0.0", "")
	ww.push(t, "acme/cart", "1.1.0")
	ww.man.release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ww.w.Run(ctx) }()
	waitPromotion(t, ww.man, 30*time.Second) // first promotion in flight
	cancel()                                 // SIGTERM
	close(ww.man.release)
	if err := <-done; err != nil {
		t.Fatalf("Run after SIGTERM: %v", err)
	}
	if got := ww.man.landed(); len(got) != 1 {
		t.Errorf("landed %q: want exactly the in-flight promotion, none started after SIGTERM", got)
	}
}

func waitReady(t *testing.T, w *watch.Watcher) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !w.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("watcher not ready within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settledCount returns the GET count of kind once it reaches want or stops
// growing: the proxy records each request just after answering it.
func settledCount(reg *harness.Registry, kind harness.RequestKind, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for reg.Count(http.MethodGet, kind) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return reg.Count(http.MethodGet, kind)
}

// waitCycles waits until the watcher listed tags n more times (n poll cycles).
func waitCycles(t *testing.T, reg *harness.Registry, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for reg.Count(http.MethodGet, harness.KindTags) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d poll cycles within 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the last cycle's decisions land
}
