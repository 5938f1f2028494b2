package watch

import (
	"context"
	"sync"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

// cycleRecorder is a CurrentReader that records the cycle identity of each
// read before answering from the fake manifests.
type cycleRecorder struct {
	*fakeManifests
	mu  sync.Mutex
	ids []uint64
	out int // reads outside any cycle
}

func (c *cycleRecorder) Current(ctx context.Context, env, image string) (string, string, error) {
	id, ok := CycleOf(ctx)
	c.mu.Lock()
	if ok {
		c.ids = append(c.ids, id)
	} else {
		c.out++
	}
	c.mu.Unlock()
	return c.fakeManifests.Current(ctx, env, image)
}

func (c *cycleRecorder) take() (ids []uint64, outside int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, outside, c.ids, c.out = c.ids, c.out, nil, 0
	return ids, outside
}

func TestEveryReadOfACycleSharesItsIdentity(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 2, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("payments", "REG/vendor/payments", ">=1.0.0", "dev", "prod"),
		semverRule("cart", "REG/acme/cart", ">=1.0.0", "dev"),
	}})
	rec := &cycleRecorder{fakeManifests: f.man}
	f.w.cur = rec
	for _, img := range []string{"vendor/payments", "acme/cart"} {
		f.reg.push(img, "1.0.0")
		f.man.set("dev", f.reg.host+"/"+img, "1.0.0", "")
		f.man.set("prod", f.reg.host+"/"+img, "1.0.0", "")
	}

	var prev uint64
	for run := range 2 {
		// A new tag in each repository, so that every rule reads every environment.
		f.reg.push("vendor/payments", []string{"1.1.0", "1.2.0"}[run])
		f.reg.push("acme/cart", []string{"1.1.0", "1.2.0"}[run])
		if _, err := f.w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		ids, outside := rec.take()
		if outside != 0 || len(ids) != 3 {
			t.Fatalf("run %d: %d reads in a cycle (%v) and %d outside, want 3 and 0", run, len(ids), ids, outside)
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Errorf("run %d: reads of one cycle carry identities %v", run, ids)
			}
		}
		if ids[0] <= prev {
			t.Errorf("run %d: cycle identity %d does not follow the previous cycle's %d", run, ids[0], prev)
		}
		prev = ids[0]
	}
	if _, ok := CycleOf(context.Background()); ok {
		t.Error("CycleOf found a cycle in a bare context")
	}
}
