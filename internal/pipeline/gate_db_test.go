package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/gate"
)

// dbScanner is a fakeScanner that describes its DB, which the test replaces
// as a refreshing scanner would.
type dbScanner struct {
	fakeScanner
	mu sync.Mutex
	db gate.DBInfo
}

func (s *dbScanner) DB() gate.DBInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db
}

func (s *dbScanner) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	r, err := s.fakeScanner.Scan(ctx, ref, img)
	if err == nil {
		r.DB = s.DB()
	}
	return r, err
}

func TestGateRescansWhenTheScannersDBChanged(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	scanner := &dbScanner{db: gate.DBInfo{SchemaVersion: 2, UpdatedAt: testNow.Add(-30 * time.Hour)}}
	g := &Gate{Scanner: scanner, Now: func() time.Time { return testNow }, Open: func(ctx context.Context, ref string) (v1.Image, error) {
		return (&layouts{}).open(ref)
	}}
	ref := "ghcr.io/acme/cart@" + digestOfService("cart").String()
	remembered := "ghcr.io/acme/api@" + digestOfService("api").String()
	g.Remember(report(remembered)) // e.g. from a fan-out result file
	check := func() {
		t.Helper()
		for _, r := range []string{ref, remembered} {
			if _, _, err := g.Check(t.Context(), env(t, cfg, "dev"), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	check()
	check()
	if n := scanner.count(); n != 1 {
		t.Fatalf("%d scans before the DB changed, want 1", n)
	}
	scanner.mu.Lock()
	scanner.db.UpdatedAt = testNow.Add(-time.Hour) // refreshed
	scanner.mu.Unlock()
	check()
	check()
	if n := scanner.count(); n != 2 {
		t.Errorf("%d scans after the DB changed, want 2 (one rescan of the gate's own report, none of the remembered one)", n)
	}
}

func TestNewGate(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	g, err := NewGate(cfg)
	if err != nil {
		t.Fatalf("NewGate() error = %v", err)
	}
	want, err := gate.PolicyFromConfig("scan.policy", cfg.Scan.Policy)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Default, want) || g.Ignores != nil || g.Scanner != nil {
		t.Errorf("NewGate() = %+v, want scan.policy as default, no ignores, no scanner", g)
	}

	cfg.Scan.IgnoreFile = filepath.Join(t.TempDir(), "missing.yaml")
	var ue *UsageError
	if _, err := NewGate(cfg); !errors.As(err, &ue) {
		t.Errorf("NewGate() with a missing ignore file: error = %v, want a *UsageError", err)
	}
}
