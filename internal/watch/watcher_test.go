package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/promote"
	regclient "github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/webhook"
)

// countingRegistry is ggcr's in-memory registry behind a handler that counts
// requests by kind, can inject faults, and paginates tag lists with Link
// headers (which the in-memory registry does not do by itself).
type countingRegistry struct {
	t    *testing.T
	host string

	mu       sync.Mutex
	counts   map[string]int // "tags", "GET manifest", "HEAD manifest", "blob"
	faults   []fault
	pageSize int
}

type fault struct {
	kind       string
	status     int
	retryAfter string
	times      int
}

func newCountingRegistry(t *testing.T) *countingRegistry {
	c := &countingRegistry{t: t, counts: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		switch {
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			kind = "tags"
		case strings.Contains(r.URL.Path, "/manifests/"):
			kind = r.Method + " manifest"
		case strings.Contains(r.URL.Path, "/blobs/"):
			kind = "blob"
		}
		c.mu.Lock()
		c.counts[kind]++
		for i := range c.faults {
			if f := &c.faults[i]; f.kind == kind && f.times > 0 {
				f.times--
				c.mu.Unlock()
				if f.retryAfter != "" {
					w.Header().Set("Retry-After", f.retryAfter)
				}
				w.WriteHeader(f.status)
				return
			}
		}
		page := c.pageSize
		c.mu.Unlock()
		if kind == "tags" && page > 0 {
			c.paginate(w, r, inner, page)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c.host = u.Host
	return c
}

// paginate serves one page of the full tag list with an RFC 5988 Link to the next.
func (c *countingRegistry) paginate(w http.ResponseWriter, r *http.Request, inner http.Handler, page int) {
	full := httptest.NewRecorder()
	inner.ServeHTTP(full, httptest.NewRequest(http.MethodGet, r.URL.Path, nil))
	var tl struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(full.Body.Bytes(), &tl); err != nil {
		c.t.Errorf("decoding tag list: %v", err)
		return
	}
	start := 0
	if last := r.URL.Query().Get("last"); last != "" {
		for start < len(tl.Tags) && tl.Tags[start] <= last {
			start++
		}
	}
	end := min(start+page, len(tl.Tags))
	if end < len(tl.Tags) {
		w.Header().Set("Link", fmt.Sprintf(`<%s?n=%d&last=%s>; rel="next"`, r.URL.Path, page, url.QueryEscape(tl.Tags[end-1])))
	}
	tl.Tags = tl.Tags[start:end]
	_ = json.NewEncoder(w).Encode(tl)
}

func (c *countingRegistry) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[kind]
}

func (c *countingRegistry) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]int{}
}

func (c *countingRegistry) inject(f fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, f)
}

// push writes a fresh random image under each tag and returns its digest.
func (c *countingRegistry) push(repo string, tags ...string) string {
	c.t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		c.t.Fatal(err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: time.Now().Add(-time.Minute)})
	if err != nil {
		c.t.Fatal(err)
	}
	return c.pushImage(img, repo, tags...)
}

func (c *countingRegistry) pushImage(img v1.Image, repo string, tags ...string) string {
	c.t.Helper()
	d, err := img.Digest()
	if err != nil {
		c.t.Fatal(err)
	}
	for _, tag := range tags {
		ref, err := name.NewTag(c.host + "/" + repo + ":" + tag)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			c.t.Fatal(err)
		}
	}
	return d.String()
}

// fakeManifests is the manifests repository: env → image → pinned ref. The
// fake promoter writes into it, as the real write-back would.
type fakeManifests struct {
	mu  sync.Mutex
	cur map[string]map[string][2]string
}

func (f *fakeManifests) set(env, image, tag, digest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		f.cur = map[string]map[string][2]string{}
	}
	if f.cur[env] == nil {
		f.cur[env] = map[string][2]string{}
	}
	f.cur[env][image] = [2]string{tag, digest}
}

func (f *fakeManifests) get(env, image string) (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.cur[env][image]
	return r[0], r[1]
}

func (f *fakeManifests) Current(_ context.Context, env, image string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.cur[env][image]
	if !ok {
		return "", "", fmt.Errorf("%s in %s: %w", image, env, ErrNotDeployed)
	}
	return r[0], r[1], nil
}

type promotion struct {
	env string
	u   Update
}

type fakePromoter struct {
	m       *fakeManifests
	mu      sync.Mutex
	calls   []promotion
	blocked map[string]bool
	// started, when set, receives each promotion as it starts; release, when
	// set, is waited on (or ctx) before the promotion completes.
	started chan promotion
	release chan struct{}
	// fail, when set, is every promotion's error.
	fail error
}

func (p *fakePromoter) Promote(ctx context.Context, env string, u Update) (Outcome, error) {
	p.mu.Lock()
	p.calls = append(p.calls, promotion{env, u})
	p.mu.Unlock()
	if p.started != nil {
		p.started <- promotion{env, u}
	}
	if p.release != nil {
		select {
		case <-p.release:
		case <-ctx.Done():
			return Outcome{}, fmt.Errorf("abandoned before moving the ref: %w", ctx.Err())
		}
	}
	if p.fail != nil {
		return Outcome{}, p.fail
	}
	if p.blocked[env] {
		return Outcome{Result: Blocked, Reason: "CRITICAL CVE-2024-0001"}, nil
	}
	if tag, digest := p.m.get(env, u.Image); tag == u.Tag && digest == u.Digest {
		return Outcome{Result: Unchanged}, nil
	}
	p.m.set(env, u.Image, u.Tag, u.Digest)
	return Outcome{Result: Promoted, URL: "https://github.example/acme/manifests/pull/1"}, nil
}

func (p *fakePromoter) promotions() []promotion {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]promotion(nil), p.calls...)
}

type fixture struct {
	reg   *countingRegistry
	man   *fakeManifests
	prom  *fakePromoter
	w     *Watcher
	promR *prometheus.Registry
	logs  *observer.ObservedLogs
}

func newFixture(t *testing.T, cfg *config.Watch, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{reg: newCountingRegistry(t), man: &fakeManifests{}}
	f.prom = &fakePromoter{m: f.man, blocked: map[string]bool{}}
	for i := range cfg.Rules {
		cfg.Rules[i].Image = strings.ReplaceAll(cfg.Rules[i].Image, "REG", f.reg.host)
	}
	f.promR = prometheus.NewRegistry()
	m, err := NewMetrics(f.promR)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	log := zap.New(core)
	rr, err := regclient.New(regclient.WithLogger(log), regclient.WithRequestObserver(m.ObserveRegistryRequest), regclient.WithDefaultRPS(1000))
	if err != nil {
		t.Fatal(err)
	}
	f.w, err = New(cfg, rr, f.man, f.prom, append([]Option{WithLogger(log), WithMetrics(m)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func semverRule(name, image string, rng string, envs ...string) config.WatchRule {
	return config.WatchRule{Name: name, Image: image, Policy: config.TagPolicy{Semver: rng},
		Exclude: DefaultExclude, Environments: envs}
}

func TestPromotesNewestMatchingTagOnly(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 2, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("payments", "REG/vendor/payments", ">=3.0.0 <4.0.0", "dev", "prod"),
	}})
	image := f.reg.host + "/vendor/payments"
	f.reg.push("vendor/payments", "3.3.0")
	f.man.set("dev", image, "3.3.0", "")
	f.man.set("prod", image, "3.5.0", "sha256:prod") // prod already runs something newer
	want := f.reg.push("vendor/payments", "3.4.0")
	f.reg.push("vendor/payments", "4.0.0", "3.9.0-rc.1", "latest", "sha256-abc.sig")
	f.reg.reset()

	rep, err := f.w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	calls := f.prom.promotions()
	if len(calls) != 1 || calls[0].env != "dev" || calls[0].u.Tag != "3.4.0" || calls[0].u.Digest != want {
		t.Fatalf("promotions %+v, want one of 3.4.0@%s to dev", calls, want)
	}
	if calls[0].u.PreviousTag != "3.3.0" || calls[0].u.Service != "payments" || calls[0].u.PushedAt.IsZero() {
		t.Errorf("update %+v: want previous 3.3.0, service payments and a push time", calls[0].u)
	}
	if tag, _ := f.man.get("prod", image); tag != "3.5.0" {
		t.Errorf("prod now runs %s: an older semver replaced a newer one", tag)
	}
	if rep.Promoted != 1 {
		t.Errorf("report %+v, want 1 promoted", rep)
	}
	if got := f.reg.count("GET manifest") + f.reg.count("HEAD manifest"); got != 1 {
		t.Errorf("%d manifest requests, want 1 (only the selected candidate)", got)
	}
	if got := testutil.ToFloat64(f.w.m.promotions.WithLabelValues("dev", "promoted")); got != 1 {
		t.Errorf("promotions_total{dev,promoted} = %v, want 1", got)
	}
	if got := testutil.CollectAndCount(f.w.m.pushToPromotion); got != 1 {
		t.Errorf("push_to_promotion_seconds has %d series, want 1", got)
	}

	// A tag that does not match the policy is ignored.
	f.reg.push("vendor/payments", "5.0.0")
	f.reg.reset()
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.prom.promotions()); n != 1 {
		t.Errorf("%d promotions after pushing 5.0.0, want still 1", n)
	}
	if got := f.reg.count("GET manifest") + f.reg.count("HEAD manifest"); got != 0 {
		t.Errorf("%d manifest requests for a non-matching tag, want 0", got)
	}
}

func TestSteadyStateOneTagListPerRepositoryNoManifests(t *testing.T) {
	cfg := &config.Watch{Interval: "1h", Concurrency: 3, MaxTags: 100}
	f := newFixture(t, cfg)
	const repos = 5
	for i := range repos {
		repo := fmt.Sprintf("team/app%d", i)
		cfg.Rules = append(cfg.Rules, semverRule(fmt.Sprintf("app%d", i), f.reg.host+"/"+repo, "*", "dev"))
		d := f.reg.push(repo, "1.0.0", "1.1.0")
		f.man.set("dev", f.reg.host+"/"+repo, "1.1.0", d)
	}
	w, err := New(cfg, f.w.reg, f.man, f.prom, WithMetrics(f.w.m))
	if err != nil {
		t.Fatal(err)
	}
	f.reg.reset()
	const cycles = 3
	for range cycles {
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.reg.count("tags"); got != repos*cycles {
		t.Errorf("%d tag-list requests in %d cycles over %d repositories, want %d", got, cycles, repos, repos*cycles)
	}
	if got := f.reg.count("GET manifest") + f.reg.count("HEAD manifest") + f.reg.count("blob"); got != 0 {
		t.Errorf("%d manifest/blob requests in steady state, want 0", got)
	}
	if n := len(f.prom.promotions()); n != 0 {
		t.Errorf("%d promotions in steady state, want 0", n)
	}
}

func TestDigestPolicyFollowsMovingTag(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		{Name: "agent", Image: "REG/vendor/agent", Policy: config.TagPolicy{Digest: "stable"}, Environments: []string{"dev"}},
	}})
	image := f.reg.host + "/vendor/agent"
	first := f.reg.push("vendor/agent", "stable")
	f.man.set("dev", image, "stable", first)
	f.reg.reset()
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.prom.promotions()); n != 0 || f.reg.count("tags") != 0 || f.reg.count("HEAD manifest") != 1 {
		t.Fatalf("unchanged moving tag: %d promotions, %d tag lists, %d HEADs; want 0, 0, 1",
			n, f.reg.count("tags"), f.reg.count("HEAD manifest"))
	}
	second := f.reg.push("vendor/agent", "stable")
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, d := f.man.get("dev", image); d != second {
		t.Errorf("dev runs %s, want the moved tag's digest %s", d, second)
	}
}

func TestBlockedPromotionExitCodeAndNoRetryStorm(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "prod"),
	}})
	f.man.set("prod", f.reg.host+"/acme/cart", "1.0.0", "")
	f.reg.push("acme/cart", "1.1.0")
	f.prom.blocked["prod"] = true
	_, err := f.w.RunOnce(context.Background())
	// gate.ErrBlocked is what the CLI maps to exit code 3.
	if !errors.Is(err, gate.ErrBlocked) {
		t.Fatalf("RunOnce error %v, want gate.ErrBlocked (exit code 3)", err)
	}
	if got := testutil.ToFloat64(f.w.m.gateBlocks.WithLabelValues("prod")); got != 1 {
		t.Errorf("gate_blocks_total{prod} = %v, want 1", got)
	}
	// The same blocked candidate is not re-submitted every cycle.
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Errorf("second cycle: %v, want nil (nothing new)", err)
	}
	if n := len(f.prom.promotions()); n != 1 {
		t.Errorf("%d promotion attempts, want 1", n)
	}
}

// A failed promotion is tried again next cycle only when retrying can help:
// a *promote.TerminalError settles the repository until its tags change.
func TestRetriesOnlyRetryableFailures(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int // promotion attempts over two cycles
	}{
		{"retryable", errors.New("502 from the GitHub API"), 2},
		{"terminal", &promote.TerminalError{Err: errors.New("staging pins cart by tag only")}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
				semverRule("cart", "REG/acme/cart", "*", "prod"),
			}})
			f.man.set("prod", f.reg.host+"/acme/cart", "1.0.0", "")
			f.reg.push("acme/cart", "1.1.0")
			f.prom.fail = tt.err
			if _, err := f.w.RunOnce(context.Background()); !errors.Is(err, tt.err) {
				t.Fatalf("RunOnce = %v, want the promotion's failure", err)
			}
			_, _ = f.w.RunOnce(context.Background()) // the same tags again
			if n := len(f.prom.promotions()); n != tt.want {
				t.Errorf("%d promotion attempts over two cycles, want %d", n, tt.want)
			}
		})
	}
}

func TestRetryAfterIsHonouredWithoutErrors(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}})
	f.man.set("dev", f.reg.host+"/acme/cart", "1.0.0", "")
	f.reg.push("acme/cart", "1.1.0")
	f.reg.reset()
	f.reg.inject(fault{kind: "tags", status: http.StatusTooManyRequests, retryAfter: "1", times: 1})
	f.reg.inject(fault{kind: "GET manifest", status: http.StatusServiceUnavailable, times: 1})
	start := time.Now()
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("cycle took %s; the watcher did not wait for Retry-After: 1", waited)
	}
	if n := len(f.prom.promotions()); n != 1 {
		t.Errorf("%d promotions after the registry recovered, want 1", n)
	}
	if got := f.reg.count("tags"); got != 2 {
		t.Errorf("%d tag-list requests, want 2 (one 429, one retry)", got)
	}
	if n := f.logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 0 {
		t.Errorf("%d error log lines, want 0", n)
	}
	if n := f.logs.FilterMessage("registry asked to slow down; waiting").Len(); n != 2 {
		t.Errorf("%d wait log lines, want 2 (one per refusal)", n)
	}
	if got := testutil.ToFloat64(f.w.m.registryRequests.WithLabelValues(f.reg.host, "GET", "429")); got != 1 {
		t.Errorf("registry_requests_total{code=429} = %v, want 1", got)
	}
}

func TestTagListPaginationAndCap(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 25, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}})
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for i := range 40 {
		tags = append(tags, "1.0."+strconv.Itoa(100+i))
	}
	f.reg.pushImage(img, "acme/cart", tags...)
	f.reg.pageSize = 10
	rr, err := regclient.New(regclient.WithPageSize(10))
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository(f.reg.host + "/acme/cart")
	f.reg.reset()
	got, truncated, err := rr.Tags(context.Background(), repo, 25)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 || !truncated || got[24] != "1.0.124" {
		t.Errorf("got %d tags (last %q), truncated %v; want 25 ending 1.0.124, truncated", len(got), got[len(got)-1], truncated)
	}
	if n := f.reg.count("tags"); n != 3 {
		t.Errorf("%d tag-list pages fetched for a cap of 25 at 10 per page, want 3", n)
	}
	all, truncated, err := rr.Tags(context.Background(), repo, 1000)
	if err != nil || len(all) != 40 || truncated {
		t.Errorf("uncapped: %d tags, truncated %v, err %v; want 40, false, nil", len(all), truncated, err)
	}

	f.man.set("dev", f.reg.host+"/acme/cart", "1.0.0", "")
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.logs.FilterMessage("tag list truncated at watch.maxTags; newer tags beyond the cap are not seen").Len(); n != 1 {
		t.Errorf("%d truncation warnings, want 1", n)
	}
}

func TestWebhookTriggersImmediateCheckAndReplaysAreHarmless(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "24h", Concurrency: 2, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}})
	image := f.reg.host + "/acme/cart"
	f.man.set("dev", image, "1.0.0", "")
	f.reg.push("acme/cart", "1.0.0")
	f.prom.started = make(chan promotion, 10)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	waitFor(t, f.w.Ready)

	d := f.reg.push("acme/cart", "1.1.0")
	ev := webhook.Event{Source: "distribution", Host: f.reg.host, Repository: "acme/cart", Tag: "1.1.0", PushedAt: time.Now()}
	if !f.w.Trigger(ev) {
		t.Fatal("Trigger reported the repository as unwatched")
	}
	select {
	case p := <-f.prom.started:
		if p.u.Tag != "1.1.0" || p.u.Digest != d {
			t.Errorf("promoted %s@%s, want 1.1.0@%s", p.u.Tag, p.u.Digest, d)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no promotion after the webhook (the poll interval is 24h)")
	}
	for range 5 {
		f.w.Trigger(ev)
	}
	if f.w.Trigger(webhook.Event{Repository: "acme/other"}) {
		t.Error("an unwatched repository was reported as watched")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(f.prom.promotions()); n != 1 {
		t.Errorf("%d promotions after replays, want 1", n)
	}
	if tag, _ := f.man.get("dev", image); tag != "1.1.0" {
		t.Errorf("dev runs %s, want 1.1.0", tag)
	}
}

func TestCancelFinishesInFlightPromotionAndStartsNoOther(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev", "staging"),
	}}, WithGrace(time.Minute))
	image := f.reg.host + "/acme/cart"
	f.man.set("dev", image, "1.0.0", "")
	f.man.set("staging", image, "1.0.0", "")
	f.reg.push("acme/cart", "1.1.0")
	f.prom.started = make(chan promotion, 10)
	f.prom.release = make(chan struct{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	p := <-f.prom.started // the first promotion is in flight
	cancel()              // SIGTERM
	close(f.prom.release) // the write-back finishes within the grace period
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	calls := f.prom.promotions()
	if len(calls) != 1 {
		t.Fatalf("%d promotions, want exactly the one in flight at cancel", len(calls))
	}
	if tag, _ := f.man.get(p.env, image); tag != "1.1.0" {
		t.Errorf("in-flight promotion to %s did not complete", p.env)
	}
}

func TestGraceExpiryAbandonsPromotion(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}}, WithGrace(0))
	image := f.reg.host + "/acme/cart"
	f.man.set("dev", image, "1.0.0", "")
	f.reg.push("acme/cart", "1.1.0")
	f.prom.started = make(chan promotion, 1)
	f.prom.release = make(chan struct{}) // never released: only the grace expiry ends it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	<-f.prom.started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if tag, _ := f.man.get("dev", image); tag != "1.0.0" {
		t.Errorf("dev runs %s after an abandoned promotion, want 1.0.0", tag)
	}
}

func TestShardingSplitsRepositories(t *testing.T) {
	var rules []config.WatchRule
	for i := range 40 {
		rules = append(rules, semverRule(fmt.Sprintf("app%d", i), fmt.Sprintf("registry.example.com/team/app%d", i), "*", "dev"))
	}
	seen := map[string]int{}
	for i := range 4 {
		w, err := New(&config.Watch{Rules: rules}, &regclient.Client{}, &fakeManifests{}, &fakePromoter{}, WithShard(Shard{Index: i, Count: 4}))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range w.Repositories() {
			seen[r]++
		}
	}
	if len(seen) != 40 {
		t.Errorf("%d repositories covered by 4 shards, want 40", len(seen))
	}
	for r, n := range seen {
		if n != 1 {
			t.Errorf("%s watched by %d shards", r, n)
		}
	}
}

func TestOpsEndpoints(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}})
	f.man.set("dev", f.reg.host+"/acme/cart", "1.0.0", "")
	h := OpsHandler(f.w.Ready, f.promR)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d, want 200", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz before the first cycle %d, want 503", code)
	}
	f.reg.push("acme/cart", "1.0.0")
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz after the first cycle %d, want 200", code)
	}
	code, body := get("/metrics")
	for _, series := range []string{"automator_watch_polls_total", "automator_watch_registry_requests_total",
		"automator_watch_last_successful_cycle_timestamp_seconds", "automator_watch_cycle_duration_seconds"} {
		if code != 200 || !strings.Contains(body, series) {
			t.Errorf("/metrics (%d) lacks %s", code, series)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
