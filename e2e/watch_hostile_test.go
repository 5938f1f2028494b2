package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/watch"
)

// hostile starts a server for one misbehaviour and returns its host.
func hostile(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestWatchAmongHostileRegistries runs the watcher over a healthy repository on the real registry
// next to a registry that hangs, one whose tag list never ends, one in a 429 storm with
// Retry-After, and one that redirects its tag list (with credentials configured) to a foreign host.
// Each cycle ends within the repository budget, the healthy repository is promoted, /healthz and
// /readyz answer, the foreign host receives no credentials, and heap stays bounded.
func TestWatchAmongHostileRegistries(t *testing.T) {
	reg := harness.StartRegistry(t)
	ww := &watchWorld{reg: reg}
	digest := ww.push(t, "acme/cart", "1.1.0")

	release := make(chan struct{})
	hung := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	var pages atomic.Int64
	endless := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		n := pages.Add(1)
		w.Header().Set("Link", fmt.Sprintf(`<%s?n=1000&last=t%d>; rel="next"`, r.URL.Path, n))
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "x", "tags": []string{}})
	})
	var storm atomic.Int64
	stormy := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		storm.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	var (
		mu      sync.Mutex
		leaked  []string
		foreign = hostile(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			leaked = append(leaked, r.Header.Get("Authorization"))
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"name": "x", "tags": []string{"9.9.9"}})
		})
	)
	redirecting := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "hunter2-secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/tags/list"):
			http.Redirect(w, r, "http://"+foreign+r.URL.Path, http.StatusFound)
		case r.URL.Path != "/v2/":
			http.NotFound(w, r)
		}
	})

	man := newManifestsRepo()
	rules := []config.WatchRule{rule("cart", reg.Ref("acme/cart"), "*", "prod")}
	for i, h := range []string{hung, endless, stormy, redirecting} {
		rules = append(rules, rule(fmt.Sprintf("bad%d", i), h+"/acme/bad", "*", "prod"))
		man.pin("prod", h+"/acme/bad", "1.0.0", "")
	}
	man.pin("prod", reg.Ref("acme/cart"), "1.0.0", "")
	m, err := watch.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BAD_PASS": "hunter2-secret"}
	rr, err := registry.New(registry.WithRequestObserver(m.ObserveRegistryRequest), registry.WithMaxTagPages(50),
		registry.WithRegistries([]config.Registry{{Host: redirecting, Username: "ci", PasswordEnv: "BAD_PASS"}}, func(k string) string { return env[k] }))
	if err != nil {
		t.Fatal(err)
	}
	w, err := watch.New(&config.Watch{Interval: "1h", Concurrency: 5, MaxTags: 10000, RepositoryTimeout: "2s", Rules: rules},
		rr, man, man, watch.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	ops := httptest.NewServer(watch.OpsHandler(w.Ready, prometheus.NewRegistry()))
	defer ops.Close()

	stopHeap := sampleHeap(50*time.Millisecond, func() {
		resp, err := http.Get(ops.URL + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz during hostile cycles: %v %v", resp, err)
		}
		if resp != nil {
			_ = resp.Body.Close()
		}
	})
	for cycle := range 2 {
		start := time.Now()
		rep, _ := w.RunOnce(context.Background())
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("cycle %d took %s with a 2s repository budget", cycle, took)
		}
		// The endless paginator's list is cut at the page cap (a truncation, not an error); the
		// redirected list names a tag the registry does not hold.
		if rep.Errors != 3 {
			t.Errorf("cycle %d: %d failed checks, want 3 (hung, 429 storm, redirected)", cycle, rep.Errors)
		}
	}
	peak := stopHeap()
	if got := man.landed(); len(got) != 1 || got[0] != "prod "+reg.Ref("acme/cart")+":1.1.0@"+digest {
		t.Errorf("promotions %v, want only cart 1.1.0 in prod", got)
	}
	resp, err := http.Get(ops.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz after the cycles: %v %v", resp, err)
	}
	mu.Lock()
	for _, a := range leaked {
		if a != "" {
			t.Errorf("the foreign host received Authorization %q", a)
		}
	}
	mu.Unlock()
	if n := pages.Load(); n > 2*51 {
		t.Errorf("endless paginator served %d pages over 2 cycles, want at most the cap", n)
	}
	t.Logf("2 hostile cycles: endless paginator %d pages, 429 storm %d requests, foreign host %d requests, peak heap in use %.1f MiB",
		pages.Load(), storm.Load(), len(leaked), float64(peak)/(1<<20))
}
