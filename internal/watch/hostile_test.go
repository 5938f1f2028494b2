package watch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
)

// hungRegistry accepts connections and never answers, until the test ends.
func hungRegistry(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// A registry that accepts the connection and never answers costs only its own repositories their
// check: the cycle ends within watch.repositoryTimeout, the healthy repository is promoted, the
// watcher is ready, and the error names the budget.
func TestHungRegistryDelaysOnlyItsOwnRepositories(t *testing.T) {
	hung := hungRegistry(t)
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 2, MaxTags: 100, RepositoryTimeout: "300ms", Rules: []config.WatchRule{
		semverRule("stuck", hung+"/acme/stuck", "*", "dev"),
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}})
	f.man.set("dev", f.reg.host+"/acme/cart", "1.0.0", "")
	f.man.set("dev", hung+"/acme/stuck", "1.0.0", "")
	f.reg.push("acme/cart", "1.1.0")
	type result struct {
		rep CycleReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := f.w.RunOnce(context.Background())
		done <- result{rep, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a hung registry held up the whole cycle")
	}
	if res.rep.Errors != 1 || !errors.Is(res.err, ErrBudgetExceeded) {
		t.Errorf("cycle: %d errors, %v; want 1, ErrBudgetExceeded", res.rep.Errors, res.err)
	}
	if tag, _ := f.man.get("dev", f.reg.host+"/acme/cart"); tag != "1.1.0" {
		t.Errorf("healthy repository runs %s in dev, want 1.1.0 promoted", tag)
	}
	if !f.w.Ready() {
		t.Error("watcher not ready after a cycle in which only one registry hung")
	}
}
