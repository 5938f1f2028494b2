package watch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestMinAgeWaitsForTheTagToAge: a rule with minAge promotes a new tag only
// once this watcher has known it for minAge, and the waiting check is not
// settled (the same tag list is looked at again).
func TestMinAgeWaitsForTheTagToAge(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	rule := semverRule("payments", "REG/vendor/payments", ">=1.0.0", "dev")
	rule.MinAge = "2h"
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{rule}}, WithClock(clk.Now))
	image := f.reg.host + "/vendor/payments"
	f.reg.push("vendor/payments", "1.0.0")
	f.man.set("dev", image, "1.0.0", "")
	f.reg.push("vendor/payments", "1.1.0")

	for _, step := range []struct {
		advance  time.Duration
		promoted int
	}{{0, 0}, {time.Hour, 0}, {59 * time.Minute, 0}, {time.Minute, 1}} {
		clk.advance(step.advance)
		if _, err := f.w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(f.prom.promotions()); n != step.promoted {
			t.Fatalf("after %s more: %d promotions, want %d", step.advance, n, step.promoted)
		}
	}
	if tag, _ := f.man.get("dev", image); tag != "1.1.0" {
		t.Errorf("dev runs %s, want 1.1.0 once it aged", tag)
	}
}
