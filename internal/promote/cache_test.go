package promote

import (
	"context"
	"errors"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// countingWriter counts Current calls; fail makes the next one fail.
type countingWriter struct {
	gitops.Writer  // Previous is not used
	reads, applies int
	fail           error
}

func (w *countingWriter) Current(context.Context, config.Environment, string, map[string]string) ([]gitops.Image, error) {
	w.reads++
	if err := w.fail; err != nil {
		w.fail = nil
		return nil, err
	}
	return []gitops.Image{{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "1.0.0"}}, nil
}

func (w *countingWriter) Apply(context.Context, gitops.Request) (*gitops.Result, error) {
	w.applies++
	return &gitops.Result{}, nil
}

type cycleKey struct{}

func inCycle(id uint64) context.Context {
	return context.WithValue(context.Background(), cycleKey{}, id)
}

func cycleOf(ctx context.Context) (uint64, bool) {
	id, ok := ctx.Value(cycleKey{}).(uint64)
	return id, ok
}

func TestCachedReads(t *testing.T) {
	w := &countingWriter{}
	c := NewCachedReads(w, cycleOf)
	dev := config.Environment{Name: "dev"}
	images := map[string]string{"cart": "ghcr.io/acme/cart"}
	read := func(ctx context.Context, at string) {
		t.Helper()
		if _, err := c.Current(ctx, dev, at, images); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name      string
		do        func()
		wantReads int
	}{
		{"first read of cycle 1", func() { read(inCycle(1), "") }, 1},
		{"cycle 1 again: cached", func() { read(inCycle(1), "") }, 1},
		{"a revision: not cached", func() { read(inCycle(1), "abc123") }, 2},
		{"outside a cycle: not cached", func() { read(context.Background(), "") }, 3},
		{"cycle 2 reads again", func() { read(inCycle(2), "") }, 4},
		{"an Apply drops the read", func() {
			if _, err := c.Apply(inCycle(2), gitops.Request{Env: dev}); err != nil {
				t.Fatal(err)
			}
			read(inCycle(2), "")
		}, 5},
		{"a failed read is not cached", func() {
			w.fail = errors.New("502")
			if _, err := c.Current(inCycle(3), dev, "", images); err == nil {
				t.Fatal("the failure was not returned")
			}
			read(inCycle(3), "")
		}, 7},
	}
	for _, s := range steps {
		s.do()
		if w.reads != s.wantReads {
			t.Fatalf("%s: %d reads, want %d", s.name, w.reads, s.wantReads)
		}
	}
}
