package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go.uber.org/zap"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
)

// testNow is the fixed clock of every test: gate verdicts (ignore expiry),
// build times and the DB age line depend on it.
var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// testConfig has one environment per trigger kind; dev warns on CRITICAL,
// prod (promoted from staging) blocks on it, staging uses scan.policy.
const testConfig = `version: 1
scan:
  policy:
    failOn: [CRITICAL]
    mode: block
environments:
  - name: dev
    repo: acme/manifests
    files: [dev/values.yaml]
    mode: commit
    gate:
      failOn: [CRITICAL]
      mode: warn
    triggers:
      - event: push
        branches: [main, "feature/*"]
  - name: staging
    repo: acme/manifests
    files: [staging/values.yaml]
    triggers:
      - event: pull_request
        branches: [main]
      - event: merge_group
  - name: prod
    repo: acme/manifests
    files: [prod/values.yaml]
    promoteFrom: staging
    gate:
      failOn: [CRITICAL]
      mode: block
    triggers:
      - event: tag
        tags: ["v*"]
  - name: rc
    repo: acme/manifests
    files: [rc/values.yaml]
    triggers:
      - event: tag
        tags: ["v*-rc*"]
  - name: preview
    repo: acme/manifests
    files: [preview/values.yaml]
    triggers:
      - event: workflow_dispatch
        branches: ["release/*"]
`

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("automator.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatalf("parsing the test config: %v", err)
	}
	return cfg
}

func env(t *testing.T, cfg *config.Config, name string) *promote.Target {
	t.Helper()
	all, err := promote.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := all.Lookup(name)
	if err != nil {
		t.Fatalf("no environment %q in the test config", name)
	}
	return ts[0]
}

// targets are the named environments of testConfig, resolved.
func targets(t *testing.T, names ...string) []*promote.Target {
	t.Helper()
	cfg := parseConfig(t, testConfig)
	var out []*promote.Target
	for _, n := range names {
		out = append(out, env(t, cfg, n))
	}
	return out
}

// scanPolicy is cfg's scan.policy, compiled (the gate's Default).
func scanPolicy(t *testing.T, cfg *config.Config) gate.Policy {
	t.Helper()
	p, err := gate.PolicyFromConfig("scan.policy", cfg.Scan.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// digestOfService is a stable sha256 digest per service (and build).
func digestOfService(name string) v1.Hash {
	sum := sha256.Sum256([]byte(name))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// criticalFinding is fixable, so ignoreUnfixed does not hide it.
var criticalFinding = gate.Finding{
	ID: "CVE-2026-0001", Package: "openssl", Target: "img (alpine 3.20)", Class: "os-pkgs", Type: "alpine",
	Installed: "3.3.0-r0", Fixed: "3.3.2-r0", Status: "fixed", Severity: gate.SeverityCritical, Title: "openssl: remote crash",
}

var mediumFinding = gate.Finding{
	ID: "CVE-2026-0002", Package: "zlib", Target: "img (alpine 3.20)", Class: "os-pkgs", Type: "alpine",
	Installed: "1.3-r0", Status: "affected", Severity: gate.SeverityMedium,
}

// report builds a scan report of ref (REPOSITORY@DIGEST) by hand.
func report(ref string, findings ...gate.Finding) *gate.Report {
	_, digest, _ := cutDigest(ref)
	return &gate.Report{
		Image:     gate.Image{Ref: ref, Digest: digest, OS: "alpine 3.20"},
		DB:        gate.DBInfo{SchemaVersion: 2, UpdatedAt: testNow.Add(-30 * time.Hour), NextUpdate: testNow.Add(-6 * time.Hour)},
		ScannedAt: testNow,
		Scanner:   "trivy v0.74.0",
		Findings:  findings,
	}
}

// fakeBuilder "builds" a service into <Output> with a digest derived from
// the service name; it fails the services in fail and records how many
// builds ran at once. With barrier set, the first builds wait until as many
// builds as the parallelism allows have been in flight together (the
// recorded maximum shows the parallelism was used), then every build stays
// in flight while yielding, so one started beyond the limit overlaps it and
// shows up in the maximum. A correct limit never exceeds it.
type fakeBuilder struct {
	fail    map[string]error
	barrier int // parallelism to wait for; 0: no waiting
	total   int // number of plans, with barrier

	mu          sync.Mutex
	cond        *sync.Cond
	inFlight    int
	maxInFlight int
	built       []string
}

var _ Builder = (*fakeBuilder)(nil)

func (b *fakeBuilder) Build(ctx context.Context, req build.Request) (*build.Result, error) {
	b.mu.Lock()
	if b.cond == nil {
		b.cond = sync.NewCond(&b.mu)
	}
	b.inFlight++
	b.maxInFlight = max(b.maxInFlight, b.inFlight)
	b.built = append(b.built, req.Service)
	b.cond.Broadcast()
	if b.barrier > 0 {
		for b.maxInFlight < min(b.barrier, b.total) {
			b.cond.Wait()
		}
	}
	b.mu.Unlock()
	if b.barrier > 0 {
		// Stay in flight while other goroutines run: a build started
		// beyond the limit now overlaps this one and raises the maximum.
		for range 200 {
			runtime.Gosched()
		}
	}
	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
	if req.Log != nil { // as the real builders log their output lines
		req.Log.Info("builder output", zap.String("line", "STEP 1/1: COPY "+req.Service))
	}
	if err := b.fail[req.Service]; err != nil {
		return nil, err
	}
	return &build.Result{Service: req.Service, Builder: "fake", Layout: req.Output, Digest: digestOfService(req.Service)}, nil
}

// fakeScanner returns a report per scanned reference, with the findings
// of its service (keyed by the repository), and counts its calls.
type fakeScanner struct {
	findings map[string][]gate.Finding // repository → findings
	fail     map[string]error          // repository → error

	mu    sync.Mutex
	calls []string
}

var _ Scanner = (*fakeScanner)(nil)

func (s *fakeScanner) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	if img == nil {
		return nil, fmt.Errorf("scanning %s: no image", ref)
	}
	s.mu.Lock()
	s.calls = append(s.calls, ref)
	s.mu.Unlock()
	repo, _, _ := cutDigest(ref)
	if err := s.fail[repo]; err != nil {
		return nil, err
	}
	return report(ref, s.findings[repo]...), nil
}

func (s *fakeScanner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// layouts opens every layout as an empty image and records the directories.
type layouts struct {
	mu     sync.Mutex
	opened []string
}

func (l *layouts) open(dir string) (v1.Image, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opened = append(l.opened, dir)
	return empty.Image, nil
}

type pushCall struct {
	Dir    string
	Digest v1.Hash
	Repos  []string
	Tags   []string
}

// fakePusher records pushes and answers with repo:tag@digest references.
type fakePusher struct {
	fail map[string]error // layout dir → error

	mu    sync.Mutex
	calls []pushCall
}

var _ Pusher = (*fakePusher)(nil)

func (p *fakePusher) Push(ctx context.Context, dir string, digest v1.Hash, repos []string, tags []string) (*registry.Pushed, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail[dir]; err != nil {
		return nil, err
	}
	p.calls = append(p.calls, pushCall{Dir: dir, Digest: digest, Repos: repos, Tags: tags})
	out := &registry.Pushed{Digest: digest}
	for _, r := range repos {
		for _, t := range tags {
			out.References = append(out.References, r+":"+t+"@"+digest.String())
		}
	}
	return out, nil
}

func (p *fakePusher) pushedDirs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.calls {
		out = append(out, c.Dir)
	}
	return out
}

// plan is the build plan of service with image ghcr.io/acme/<service>, one
// mirror and two tags (the semver tag last).
func plan(outDir, service string) build.Plan {
	img := "ghcr.io/acme/" + service
	return build.Plan{
		Service:      service,
		Image:        img,
		Repositories: []string{img, "registry.example.com/acme/" + service},
		Tags:         []string{"sha-0123456", "1.4.0"},
		Request:      build.Request{Service: service, Context: service, Output: filepath.Join(outDir, service)},
	}
}

type promoteCall struct {
	Env      string
	From     string
	Explicit []gitops.Update
	// Upstream is true for PromoteUpstream calls.
	Upstream bool
}

// fakePromoter records calls and answers with the result and error set
// for each environment.
type fakePromoter struct {
	results map[string]*gitops.Result
	errs    map[string]error
	calls   []promoteCall
}

var _ Lander = (*fakePromoter)(nil)

func (p *fakePromoter) Promote(ctx context.Context, t *promote.Target, explicit []gitops.Update) (*gitops.Result, error) {
	c := promoteCall{Env: t.Name(), Explicit: explicit}
	if t.From != nil && len(explicit) == 0 {
		c.From = t.From.Name()
	}
	p.calls = append(p.calls, c)
	return p.results[t.Name()], p.errs[t.Name()]
}

func (p *fakePromoter) PromoteUpstream(ctx context.Context, t *promote.Target, published []gitops.Update) (*gitops.Result, error) {
	p.calls = append(p.calls, promoteCall{Env: t.Name(), From: t.From.Name(), Explicit: published, Upstream: true})
	return p.results[t.Name()], p.errs[t.Name()]
}
