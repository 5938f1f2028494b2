package trivy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/gate"
	imgregistry "github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// newTestScanner opens an offline scanner on a fresh fixture DB. Trivy allows
// one open DB per process, so it is closed at the end of the test.
func newTestScanner(tb testing.TB, opts ...Option) (*Trivy, string) {
	tb.Helper()
	dir := scantest.NewDB(tb, scantest.FreshDB(time.Now()))
	s, err := New(context.Background(), append([]Option{WithCacheDir(dir), WithOffline(true)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s, dir
}

func scanLayout(tb testing.TB, s scan.Scanner, spec scantest.ImageSpec, ref string) *gate.Report {
	tb.Helper()
	dir, _ := scantest.Layout(tb, spec, ref)
	img, err := scan.OpenLayout(dir)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := s.Scan(context.Background(), ref, img)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// summary renders findings as "ID pkg installed→fixed SEVERITY path" lines.
func summary(fs []gate.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s→%s %s %s", f.ID, f.Package, f.Installed, f.Fixed, f.Severity, f.Path))
	}
	slices.Sort(out)
	return out
}

func TestScanOSAndLanguagePackages(t *testing.T) {
	s, _ := newTestScanner(t)
	tests := []struct {
		name   string
		spec   scantest.ImageSpec
		want   []string
		wantOS string
	}{
		{
			name: "vulnerable",
			spec: scantest.Vulnerable,
			want: []string{
				"CVE-2021-9996 lodash 4.17.20→4.17.21 MEDIUM app/node_modules/lodash/package.json",
				"CVE-2023-9998 openssl 3.1.0-r0→3.1.2-r0 MEDIUM ",
				"CVE-2023-9999 openssl 3.1.0-r0→3.1.4-r0 CRITICAL ",
				"CVE-2024-9997 golang.org/x/text v0.21.0→0.27.0 HIGH app/server",
			},
			wantOS: "alpine 3.18.4",
		},
		{name: "fixed", spec: scantest.Fixed, wantOS: "alpine 3.18.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scanLayout(t, s, tt.spec, "ghcr.io/acme/cart:"+tt.name)
			if got := summary(r.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n got %q\nwant %q", got, tt.want)
			}
			if r.Image.OS != tt.wantOS || !strings.HasPrefix(r.Image.Digest, "sha256:") || r.DB != s.DB() {
				t.Errorf("report metadata = %+v / %+v", r.Image, r.DB)
			}
			for _, f := range r.Findings {
				if f.PURL == "" || f.Title == "" || f.Status != "fixed" {
					t.Errorf("finding lacks evidence: %+v", f)
				}
			}
		})
	}
}

// TestGateEndToEnd is the acceptance scenario without a registry: one
// scan per digest, three environments' policies applied to it.
func TestGateEndToEnd(t *testing.T) {
	inner, _ := newTestScanner(t)
	counting := &countingScanner{Scanner: inner}
	s := scan.NewCaching(counting)
	policies := []gate.EnvPolicy{
		{Env: "dev", Policy: gate.Policy{FailOn: []gate.Severity{gate.SeverityCritical}, Mode: gate.ModeWarn}},
		{Env: "staging", Policy: gate.Policy{FailOn: []gate.Severity{gate.SeverityCritical}, Mode: gate.ModeBlock}},
		{Env: "prod", Policy: gate.Policy{FailOn: []gate.Severity{gate.SeverityCritical}, Mode: gate.ModeBlock}},
	}
	now := time.Now()
	future := now.AddDate(0, 1, 0).Format(time.DateOnly)
	past := now.AddDate(0, 0, -1).Format(time.DateOnly)
	accepted := mustIgnore(t, ".trivyignore.yaml", fmt.Sprintf("vulnerabilities:\n  - id: %s\n    statement: fix scheduled\n    expired_at: %s\n", scantest.OpenSSLCritical, future))
	lapsed := mustIgnore(t, ".trivyignore", fmt.Sprintf("%s exp:%s\n", scantest.OpenSSLCritical, past))

	tests := []struct {
		name        string
		spec        scantest.ImageSpec
		ignores     *gate.IgnoreList
		want        map[string]gate.Outcome
		wantExpired bool
	}{
		{"vulnerable", scantest.Vulnerable, nil, map[string]gate.Outcome{"dev": gate.Warn, "staging": gate.Block, "prod": gate.Block}, false},
		{"fixed", scantest.Fixed, nil, map[string]gate.Outcome{"dev": gate.Pass, "staging": gate.Pass, "prod": gate.Pass}, false},
		{"accepted until next month", scantest.Vulnerable, accepted, map[string]gate.Outcome{"dev": gate.Pass, "staging": gate.Pass, "prod": gate.Pass}, false},
		{"acceptance expired yesterday", scantest.Vulnerable, lapsed, map[string]gate.Outcome{"dev": gate.Warn, "staging": gate.Block, "prod": gate.Block}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, digest := scantest.Layout(t, tt.spec, "ghcr.io/acme/cart:"+tt.name)
			img, err := scan.OpenLayout(dir)
			if err != nil {
				t.Fatal(err)
			}
			before := counting.n.Load()
			var verdicts []gate.Verdict
			// One promotion run: each environment asks for the same digest.
			for _, p := range policies {
				r, err := s.Scan(context.Background(), "ghcr.io/acme/cart@"+digest.String(), img)
				if err != nil {
					t.Fatal(err)
				}
				verdicts = append(verdicts, gate.Evaluate(r, p.Env, p.Policy, tt.ignores, now))
			}
			if scans := counting.n.Load() - before; scans > 1 {
				t.Errorf("digest scanned %d times for %d environments", scans, len(policies))
			}
			for _, v := range verdicts {
				if v.Outcome != tt.want[v.Env] {
					t.Errorf("%s: outcome %s, want %s (%v)", v.Env, v.Outcome, tt.want[v.Env], v.Reasons)
				}
				if v.Outcome != gate.Pass && (len(v.Deciding) == 0 || v.Deciding[0].ID != scantest.OpenSSLCritical || v.Deciding[0].Fixed != scantest.OpenSSLFixed) {
					t.Errorf("%s: deciding findings %+v", v.Env, v.Deciding)
				}
				if got := len(v.Expired) > 0; got != tt.wantExpired {
					t.Errorf("%s: expired entries %+v, want some: %v", v.Env, v.Expired, tt.wantExpired)
				}
			}
			err = gate.Check(gate.Image{Ref: "ghcr.io/acme/cart", Digest: digest.String()}, verdicts)
			var be *gate.BlockedError
			if blocked := tt.want["prod"] == gate.Block; blocked != errors.As(err, &be) || (blocked && !errors.Is(err, gate.ErrBlocked)) {
				t.Errorf("gate.Check = %v", err)
			}
		})
	}
}

func mustIgnore(t *testing.T, name, data string) *gate.IgnoreList {
	t.Helper()
	l, err := gate.ParseIgnore(name, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type countingScanner struct {
	scan.Scanner
	n atomic.Int64
}

func (c *countingScanner) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	c.n.Add(1)
	return c.Scanner.Scan(ctx, ref, img)
}

func TestScanRemoteImageByDigest(t *testing.T) {
	s, _ := newTestScanner(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img := scantest.Image(t, scantest.Vulnerable)
	tag, err := name.NewTag(host + "/acme/cart:1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	ref := host + "/acme/cart@" + d.String()
	rc, err := imgregistry.New()
	if err != nil {
		t.Fatal(err)
	}
	rimg, err := rc.Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Scan(context.Background(), ref, rimg)
	if err != nil {
		t.Fatal(err)
	}
	local := scanLayout(t, s, scantest.Vulnerable, "local")
	if r.Image.Digest != d.String() || !slices.Equal(summary(r.Findings), summary(local.Findings)) || len(r.Findings) == 0 {
		t.Errorf("remote scan = %v (%s), layout scan = %v", summary(r.Findings), r.Image.Digest, summary(local.Findings))
	}
	if _, err := rc.Image(context.Background(), host+"/acme/missing@"+d.String()); err == nil || !strings.Contains(err.Error(), "acme/missing") {
		t.Errorf("missing image error = %v", err)
	}
}

func TestDBErrors(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		opts  []Option
		want  []string
	}{
		{
			name:  "missing DB offline",
			setup: func(*testing.T, string) {},
			opts:  []Option{WithOffline(true)},
			want:  []string{"no usable DB", "trivy.db does not exist", "run once with network access", "scan.cacheDir"},
		},
		{
			name: "DB older than maxDBAge, skipDBUpdate",
			setup: func(t *testing.T, dir string) {
				mustDB(t, dir, scantest.DBMeta{UpdatedAt: now.Add(-30 * 24 * time.Hour), NextUpdate: now.Add(-29 * 24 * time.Hour), DownloadedAt: now.Add(-30 * 24 * time.Hour)})
			},
			opts: []Option{WithSkipDBUpdate(true), WithMaxDBAge(7 * 24 * time.Hour)},
			want: []string{"older than scan.maxDBAge 168h0m0s", "refresh"},
		},
		{
			name:  "missing DB and every mirror down",
			setup: func(*testing.T, string) {},
			opts:  []Option{WithDBRepositories(deadRegistry(t)+"/aquasec/trivy-db:2", deadRegistry(t)+"/aquasecurity/trivy-db:2")},
			want:  []string{"none could be downloaded", "mirrors tried: 127.0.0.1", "aquasec/trivy-db:2", "aquasecurity/trivy-db:2", "scan.dbRepositories"},
		},
		{
			name: "stale DB past NextUpdate and every mirror down",
			setup: func(t *testing.T, dir string) {
				mustDB(t, dir, scantest.DBMeta{UpdatedAt: now.Add(-10 * 24 * time.Hour), NextUpdate: now.Add(-9 * 24 * time.Hour), DownloadedAt: now.Add(-10 * 24 * time.Hour)})
			},
			opts: []Option{WithDBRepositories(deadRegistry(t) + "/aquasec/trivy-db:2")},
			want: []string{"could not be updated", "mirrors tried"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			s, err := New(context.Background(), append([]Option{WithCacheDir(dir)}, tt.opts...)...)
			if err == nil {
				_ = s.Close()
				t.Fatal("New succeeded")
			}
			var dbe *scan.DBError
			if !errors.As(err, &dbe) {
				t.Fatalf("error %v (%T) is not a *scan.DBError", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestDBFallbackAndMirrorOrder checks that an update failure with a DB still
// younger than maxDBAge warns and scans, and that a later mirror is used when
// the first fails.
func TestDBFallbackAndMirrorOrder(t *testing.T) {
	now := time.Now()
	t.Run("cached DB within maxDBAge", func(t *testing.T) {
		dir := t.TempDir()
		mustDB(t, dir, scantest.DBMeta{UpdatedAt: now.Add(-30 * time.Hour), NextUpdate: now.Add(-6 * time.Hour), DownloadedAt: now.Add(-29 * time.Hour)})
		core, logs := observer.New(zap.WarnLevel)
		s, err := New(context.Background(), WithCacheDir(dir), WithLogger(zap.New(core)), WithDBRepositories(deadRegistry(t)+"/aquasec/trivy-db:2"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if logs.FilterMessage("vulnerability DB update failed, using the cached DB").Len() != 1 {
			t.Errorf("no fallback warning; logs: %v", logs.All())
		}
		if r := scanLayout(t, s, scantest.Vulnerable, "x"); len(r.Findings) == 0 {
			t.Error("no findings with the cached DB")
		}
	})
	t.Run("second mirror serves the DB", func(t *testing.T) {
		src := t.TempDir()
		mustDB(t, src, scantest.FreshDB(now))
		good := serveDB(t, src)
		dir := t.TempDir()
		s, err := New(context.Background(), WithCacheDir(dir), WithDBRepositories(deadRegistry(t)+"/aquasec/trivy-db:2", good))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.DB().DownloadedAt.IsZero() || s.DB().UpdatedAt.Unix() != now.Add(-time.Hour).Unix() {
			t.Errorf("DB info after download = %+v", s.DB())
		}
		if r := scanLayout(t, s, scantest.Vulnerable, "x"); len(r.Findings) != 4 {
			t.Errorf("findings with the downloaded DB: %v", summary(r.Findings))
		}
	})
}

func TestScanRefusesADBThatAgedPastMaxAge(t *testing.T) {
	later := time.Now()
	s, _ := newTestScanner(t, WithMaxDBAge(48*time.Hour), WithClock(func() time.Time { return later }))
	img := scantest.Image(t, scantest.Fixed)
	if _, err := s.Scan(context.Background(), "x", img); err != nil {
		t.Fatal(err)
	}
	later = later.Add(72 * time.Hour) // the watcher kept running
	_, err := s.Scan(context.Background(), "x", img)
	var dbe *scan.DBError
	if !errors.As(err, &dbe) || !strings.Contains(err.Error(), "older than scan.maxDBAge 48h0m0s") {
		t.Errorf("scan with an aged DB = %v", err)
	}
}

func mustDB(t *testing.T, dir string, meta scantest.DBMeta) {
	t.Helper()
	if err := scantest.WriteDB(dir, meta); err != nil {
		t.Fatal(err)
	}
}

// deadRegistry is a registry host that answers every request with 404s.
func deadRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// serveDB publishes the DB in cacheDir/db as a Trivy DB artifact (one
// db.tar.gz layer) on an in-memory registry and returns its reference.
func serveDB(t *testing.T, cacheDir string) string {
	t.Helper()
	host := deadRegistry(t)
	ref := host + "/aquasec/trivy-db:2"
	if err := scantest.PushDB(ref, filepath.Join(cacheDir, "db")); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestScannersShareOneDB covers Trivy's one-DB-per-process rule: scanners on
// the same cache dir share the DB and the locked layer cache, a different
// cache dir is refused while one is open.
func TestScannersShareOneDB(t *testing.T) {
	a, dir := newTestScanner(t)
	b, err := New(context.Background(), WithCacheDir(dir), WithOffline(true))
	if err != nil {
		t.Fatal(err)
	}
	if b.DB() != a.DB() {
		t.Errorf("shared scanner sees another DB: %+v vs %+v", b.DB(), a.DB())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if r := scanLayout(t, a, scantest.Vulnerable, "after-close"); len(r.Findings) == 0 {
		t.Error("closing one sharer closed the DB under the other")
	}
	other := scantest.NewDB(t, scantest.FreshDB(time.Now()))
	if c, err := New(context.Background(), WithCacheDir(other), WithOffline(true)); err == nil {
		_ = c.Close()
		t.Error("a second cache dir was opened while another is in use")
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the cache dir in use", err)
	}
}
