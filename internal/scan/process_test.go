package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/registry"
)

// The test binary doubles as a scanner executable: with
// SCAN_TEST_FAKE_SCANNER=1 it serves the protocol over a fake engine, so
// these tests run the real client, the real server loop and the loopback
// registry across a real process boundary without linking Trivy.
func TestMain(m *testing.M) {
	if os.Getenv("SCAN_TEST_FAKE_SCANNER") == "1" {
		os.Exit(fakeScannerMain())
	}
	os.Exit(m.Run())
}

func fakeScannerMain() int {
	rc, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &Server{Version: os.Getenv("SCAN_TEST_VERSION"), Scanner: "fake v1", Images: rc.Image,
		Open: func(_ context.Context, s config.Scan, l *zap.Logger) (Engine, error) {
			if s.CacheDir == "missing" {
				return nil, &DBError{Problem: "no usable DB in missing/db", CacheDir: "missing", Hint: "place one",
					Mirrors: []MirrorError{{Repository: "mirror.example/db:2", Err: errors.New("connection refused")}}}
			}
			return &fakeEngine{log: l, marker: os.Getenv("SCAN_TEST_MARKER")}, nil
		}}
	if err := srv.Serve(context.Background(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fakeEngine reads every layer of the image it is given (through the
// caller's loopback registry) and reports one finding per layer.
type fakeEngine struct {
	log    *zap.Logger
	marker string
	mu     sync.Mutex
	db     gate.DBInfo
}

func (e *fakeEngine) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	switch ref {
	case "die":
		fmt.Fprintln(os.Stderr, "panic: boom")
		os.Exit(7)
	case "block":
		<-ctx.Done()
		_ = os.WriteFile(e.marker, []byte(ctx.Err().Error()), 0o644)
		return nil, ctx.Err()
	}
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	r := &gate.Report{Image: gate.Image{Ref: ref, Digest: d.String()}, DB: e.DB(), Scanner: "fake v1"}
	for i, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		n, err := io.Copy(io.Discard, rc) // verifies the digest at EOF
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading layer %d: %w", i, err)
		}
		r.Findings = append(r.Findings, gate.Finding{ID: fmt.Sprintf("L%d-%d", i, n), Severity: gate.SeverityHigh})
	}
	e.log.Named("engine").Info("scanned", zap.String("ref", ref), zap.Int("layers", len(layers)))
	return r, nil
}

func (e *fakeEngine) DB() gate.DBInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.db.SchemaVersion == 0 {
		e.db = gate.DBInfo{SchemaVersion: 2, UpdatedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	}
	return e.db
}

func (e *fakeEngine) RefreshDB(context.Context) error {
	db := e.DB()
	e.mu.Lock()
	e.db.UpdatedAt = db.UpdatedAt.Add(24 * time.Hour)
	e.mu.Unlock()
	return nil
}

func (e *fakeEngine) SBOM(_ context.Context, ref string, img v1.Image) ([]byte, error) {
	d, err := img.Digest()
	return []byte("sbom of " + ref + " " + d.String()), err
}

func (e *fakeEngine) Close() error { return nil }

func startFake(t *testing.T, logger *zap.Logger, opts ...ProcessOption) (*Process, error) {
	t.Helper()
	t.Setenv("SCAN_TEST_FAKE_SCANNER", "1")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Start(ctx, append([]ProcessOption{WithExecutable(self), WithProcessLogger(logger)}, opts...)...)
	if err == nil {
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	return p, err
}

func TestProcessScansThroughTheLoopbackRegistry(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	p, err := startFake(t, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.DB().UpdatedAt; !got.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("DB after hello = %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := random.Image(int64(1000+i*4096), int64(i%3+1))
			if err != nil {
				errs[i] = err
				return
			}
			ref := fmt.Sprintf("ghcr.io/acme/svc-%d:1", i)
			r, err := p.Scan(ctx, ref, img)
			if err != nil {
				errs[i] = err
				return
			}
			d, _ := img.Digest()
			if r.Image.Ref != ref || r.Image.Digest != d.String() || len(r.Findings) != i%3+1 {
				errs[i] = fmt.Errorf("report %+v for %s (%s), want %d findings", r.Image, ref, d, i%3+1)
			}
			sbom, err := p.SBOM(ctx, ref, img)
			if err != nil || string(sbom) != "sbom of "+ref+" "+d.String() {
				errs[i] = fmt.Errorf("SBOM = %q, %v", sbom, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("scanned").FilterField(zap.String("ref", "ghcr.io/acme/svc-2:1")).FilterLoggerName("engine").Len(); n != 1 {
		t.Errorf("the scanner's log for svc-2 reached automator's logger (named after the scanner's) %d times, want once; logs: %v", n, logs.All())
	}
	before := p.DB().Version()
	if err := p.RefreshDB(ctx); err != nil {
		t.Fatal(err)
	}
	if p.DB().Version() == before {
		t.Error("DB() still names the DB from before the refresh")
	}
	if p.Scanner() != "fake v1" {
		t.Errorf("Scanner() = %q", p.Scanner())
	}
}

func TestProcessKeepsTheDBErrorType(t *testing.T) {
	_, err := startFake(t, zap.NewNop(), WithSettings(config.Scan{CacheDir: "missing"}))
	var dbe *DBError
	if !errors.As(err, &dbe) {
		t.Fatalf("Start with a missing DB = %v, want a *DBError", err)
	}
	if dbe.CacheDir != "missing" || len(dbe.Mirrors) != 1 || dbe.Mirrors[0].Repository != "mirror.example/db:2" ||
		!strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "place one") {
		t.Errorf("DBError = %+v (%v)", dbe, err)
	}
}

func TestProcessCancelsTheRequestInTheScanner(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "cancelled")
	t.Setenv("SCAN_TEST_MARKER", marker)
	p, err := startFake(t, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(100, 1)
	// Cancelled, without a deadline the scanner could see by itself.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if _, err := p.Scan(ctx, "block", img); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Scan = %v", err)
	}
	for range 100 {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, err := os.ReadFile(marker); err != nil || !strings.Contains(string(b), "canceled") {
		t.Errorf("the scanner's request context was not cancelled with the caller's: %q, %v", b, err)
	}
	// The process still serves.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	if _, err := p.Scan(ctx2, "ok", img); err != nil {
		t.Errorf("Scan after a cancelled one: %v", err)
	}
}

func TestProcessRestartsADeadScanner(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	p, err := startFake(t, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(100, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = p.Scan(ctx, "die", img)
	if err == nil || !strings.Contains(err.Error(), "ended") || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("Scan that kills the scanner = %v, want its end and last words", err)
	}
	r, err := p.Scan(ctx, "after", img)
	if err != nil || len(r.Findings) != 2 {
		t.Fatalf("Scan after the scanner died = %+v, %v", r, err)
	}
	if logs.FilterMessage("the scanner process ended; starting it again").Len() != 1 {
		t.Errorf("restart not logged: %v", logs.All())
	}
}

func TestProcessRefusesAnotherRelease(t *testing.T) {
	t.Setenv("SCAN_TEST_VERSION", "v1.1.0")
	_, err := startFake(t, zap.NewNop(), WithVersion("v1.0.0"))
	if err == nil || !strings.Contains(err.Error(), "automator v1.0.0 cannot use automator-scan v1.1.0") {
		t.Fatalf("Start with another release's scanner = %v", err)
	}
	if _, err := startFake(t, zap.NewNop(), WithVersion("dev")); err != nil {
		t.Errorf("a development build is not compared: %v", err)
	}
}

func TestImageServerServesOnlyLentImagesUnderItsToken(t *testing.T) {
	s, err := newImageServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	img, _ := random.Image(100, 1)
	ref, done, err := s.lend(img)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	host, rest, _ := strings.Cut(ref, "/")
	repo, _, _ := strings.Cut(rest, "@")
	get := func(path string) int {
		resp, err := http.Get("http://" + host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		path string
		want int
	}{
		{"/v2/" + repo + "/manifests/" + d.String(), http.StatusOK},
		{"/v2/" + strings.Replace(repo, s.token, strings.Repeat("0", 32), 1) + "/manifests/" + d.String(), http.StatusNotFound},
		{"/v2/" + repo + "/manifests/sha256:" + strings.Repeat("a", 64), http.StatusNotFound},
		{"/v2/" + repo + "/manifests/latest", http.StatusBadRequest},
	}
	for _, tt := range tests {
		if got := get(tt.path); got != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, got, tt.want)
		}
	}
	done()
	if got := get("/v2/" + repo + "/manifests/" + d.String()); got != http.StatusNotFound {
		t.Errorf("GET after the loan ended = %d, want 404", got)
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, ScannerExecutable)
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got, err := Locate(env(map[string]string{"AUTOMATOR_SCANNER": exe})); err != nil || got != exe {
		t.Errorf("Locate with AUTOMATOR_SCANNER = %q, %v", got, err)
	}
	if _, err := Locate(env(map[string]string{"AUTOMATOR_SCANNER": filepath.Join(dir, "nope")})); err == nil || !strings.Contains(err.Error(), "AUTOMATOR_SCANNER") {
		t.Errorf("Locate with a missing AUTOMATOR_SCANNER = %v", err)
	}
	t.Setenv("PATH", dir)
	if got, err := Locate(env(nil)); err != nil || got != exe {
		t.Errorf("Locate on PATH = %q, %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Locate(env(nil)); err == nil || !strings.Contains(err.Error(), "scan.enabled: false") || !strings.Contains(err.Error(), "AUTOMATOR_SCANNER") {
		t.Errorf("Locate with no scanner = %v", err)
	}
}

func TestLazyStartsOnFirstUseAndRetriesAFailedStart(t *testing.T) {
	starts := 0
	fail := true
	l := NewLazy(func(context.Context) (*Process, error) {
		starts++
		if fail {
			return nil, errors.New("no DB yet")
		}
		return startFake(t, zap.NewNop())
	})
	if l.DB() != (gate.DBInfo{}) || starts != 0 {
		t.Fatalf("DB() before any scan started the scanner (%d starts)", starts)
	}
	img, _ := random.Image(100, 1)
	ctx := context.Background()
	if _, err := l.Scan(ctx, "a", img); err == nil || !strings.Contains(err.Error(), "no DB yet") {
		t.Fatalf("Scan with a failing start = %v", err)
	}
	fail = false
	for _, ref := range []string{"b", "c"} {
		if r, err := l.Scan(ctx, ref, img); err != nil || len(r.Findings) != 1 {
			t.Fatalf("Scan %s = %+v, %v", ref, r, err)
		}
	}
	if starts != 2 || l.DB().SchemaVersion != 2 {
		t.Errorf("%d starts (want 2: the failed one, then one for both scans), DB %+v", starts, l.DB())
	}
}
