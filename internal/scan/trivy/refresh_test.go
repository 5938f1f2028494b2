package trivy

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// fakeClock is a settable clock safe for concurrent scans.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// publishDB builds a fixture DB with meta and pushes it to ref.
func publishDB(t *testing.T, ref string, meta scantest.DBMeta) {
	t.Helper()
	src := t.TempDir()
	mustDB(t, src, meta)
	if err := scantest.PushDB(ref, filepath.Join(src, "db")); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshingUpdatesTheDBOfALongRunningScanner is the watcher's life: the
// DB passes its NextUpdate and is replaced from the mirror between scans
// (scans running at that moment all succeed), cached reports of the old DB
// are not served; then every mirror goes down: scanning goes on with a
// warning logged once while the DB is younger than maxDBAge, and fails with
// a *DBError naming the mirrors once it is older.
func TestRefreshingUpdatesTheDBOfALongRunningScanner(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{}
	clk.set(t0)
	mirror := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer mirror.Close()
	good := strings.TrimPrefix(mirror.URL, "http://") + "/aquasec/trivy-db:2"

	dir := t.TempDir()
	first := scantest.DBMeta{UpdatedAt: t0.Add(-time.Hour), NextUpdate: t0.Add(23 * time.Hour), DownloadedAt: t0.Add(-30 * time.Minute)}
	mustDB(t, dir, first)
	core, logs := observer.New(zap.InfoLevel)
	trivy, err := New(context.Background(), WithCacheDir(dir), WithClock(clk.now), WithMaxDBAge(48*time.Hour),
		WithLogger(zap.New(core)), WithDBRepositories(deadRegistry(t)+"/aquasec/trivy-db:2", good))
	if err != nil {
		t.Fatal(err)
	}
	defer trivy.Close()
	counting := &countingScanner{Scanner: trivy}
	caching := scan.NewCaching(counting)
	s := scan.NewRefreshing(caching, trivy)

	vulnDir, _ := scantest.Layout(t, scantest.Vulnerable, "v")
	fixedDir, _ := scantest.Layout(t, scantest.Fixed, "f")
	vuln, err := scan.OpenLayout(vulnDir)
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := scan.OpenLayout(fixedDir)
	if err != nil {
		t.Fatal(err)
	}
	scanImage := func(name string) (*gate.Report, error) {
		img := vuln
		if name == "fixed" {
			img = fixed
		}
		return s.Scan(context.Background(), name, img)
	}

	r, err := scanImage("vuln")
	if err != nil {
		t.Fatal(err)
	}
	if !r.DB.UpdatedAt.Equal(first.UpdatedAt) || len(r.Findings) != 4 {
		t.Fatalf("first scan: DB %+v, %d findings", r.DB, len(r.Findings))
	}

	// Upstream publishes a new DB; the clock passes the first one's NextUpdate.
	second := scantest.DBMeta{UpdatedAt: t0.Add(25 * time.Hour), NextUpdate: t0.Add(49 * time.Hour)}
	publishDB(t, good, second)
	clk.set(t0.Add(26 * time.Hour))
	var wg sync.WaitGroup
	reports := make([]*gate.Report, 6)
	errs := make([]error, 6)
	for i := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = scanImage([]string{"vuln", "fixed"}[i%2])
		}()
	}
	wg.Wait()
	for i, r := range reports {
		if errs[i] != nil {
			t.Fatalf("scan %d during the update: %v", i, errs[i])
		}
		if !r.DB.UpdatedAt.Equal(second.UpdatedAt) || r.DB.DownloadedAt.IsZero() {
			t.Errorf("scan %d after the update used DB %+v, want the one updated at %s", i, r.DB, second.UpdatedAt)
		}
		if want := []int{4, 0}[i%2]; len(r.Findings) != want {
			t.Errorf("scan %d: %d findings with the new DB, want %d", i, len(r.Findings), want)
		}
	}
	if n := counting.n.Load(); n != 3 {
		t.Errorf("%d scans by Trivy, want 3 (the old DB's report of the same digest is not reused)", n)
	}
	if n := caching.Len(); n != 2 {
		t.Errorf("cache holds %d reports, want 2 (those of the old DB dropped)", n)
	}
	if logs.FilterMessage("vulnerability DB updated").Len() != 1 {
		t.Errorf("want one update logged; logs: %v", logs.All())
	}

	// Every mirror goes down. Past the second DB's NextUpdate but within
	// maxDBAge: scans go on, the failure is logged once.
	mirror.Close()
	for _, at := range []time.Duration{50, 52, 54} {
		clk.set(t0.Add(at * time.Hour))
		if r, err := scanImage("vuln"); err != nil || !r.DB.UpdatedAt.Equal(second.UpdatedAt) {
			t.Fatalf("scan at t0+%dh with an unreachable mirror: %v", at, err)
		}
	}
	if n := logs.FilterMessage("vulnerability DB update failed, scanning with the current DB").Len(); n != 1 {
		t.Errorf("update failure logged %d times, want once", n)
	}

	// Past maxDBAge (48h after the second DB was built): a clear error.
	clk.set(t0.Add(74 * time.Hour))
	for range 2 {
		_, err = scanImage("fixed")
		var dbe *scan.DBError
		if !errors.As(err, &dbe) {
			t.Fatalf("scan with an outdated DB and no mirror = %v, want a *scan.DBError", err)
		}
		for _, want := range []string{"could not be updated", "scan.maxDBAge 48h0m0s", "mirrors tried", "aquasec/trivy-db:2", "scan.dbRepositories"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		clk.add(time.Minute) // the retry interval has not passed: the same error
	}
}

// TestRefreshingPicksUpANewerDBPlacedOffline covers offline mode: nothing is
// downloaded, but a newer DB placed in the cache dir is reopened.
func TestRefreshingPicksUpANewerDBPlacedOffline(t *testing.T) {
	t0 := time.Now()
	clk := &fakeClock{}
	clk.set(t0)
	dir := scantest.NewDB(t, scantest.FreshDB(t0))
	trivy, err := New(context.Background(), WithCacheDir(dir), WithOffline(true), WithClock(clk.now), WithMaxDBAge(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer trivy.Close()
	s := scan.NewRefreshing(scan.NewCaching(trivy), trivy)
	img := scantest.Image(t, scantest.Vulnerable)

	clk.add(30 * time.Hour) // past NextUpdate; nothing newer in the cache dir yet
	r, err := s.Scan(context.Background(), "x", img)
	if err != nil || !r.DB.UpdatedAt.Equal(scantest.FreshDB(t0).UpdatedAt) {
		t.Fatalf("scan = %+v, %v", r, err)
	}
	newer := scantest.DBMeta{UpdatedAt: t0.Add(29 * time.Hour), NextUpdate: t0.Add(53 * time.Hour)}
	if err := scantest.WriteMetadata(dir, newer); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Hour) // the retry interval passed
	r, err = s.Scan(context.Background(), "x", img)
	if err != nil || !r.DB.UpdatedAt.Equal(newer.UpdatedAt) || len(r.Findings) != 4 {
		t.Fatalf("scan after a newer DB was placed = DB %+v, %v", r, err)
	}
}
