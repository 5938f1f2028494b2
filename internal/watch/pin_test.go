package watch

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/deployment-automator/automator/internal/config"
)

// An environment pinned by digest only is never moved to an older image:
// the watcher finds which tag the pinned digest is (newest tags first, a
// bounded number of HEAD requests) and promotes only when that tag is older
// than the candidate; when no tag matches it does nothing, logs why once,
// and lists the environment in the cycle report.
func TestDigestOnlyPinIsNeverDowngraded(t *testing.T) {
	tests := []struct {
		name    string
		pin     string // tag whose digest the environment pins; "" pins an untagged image
		promote bool
		report  string // substring of the cycle report's Undecided entry; "" wants none
	}{
		{name: "pinned digest is a newer tag outside the range", pin: "2.0.0"},
		{name: "pinned digest is a newer prerelease", pin: "1.2.0-rc.1"},
		{name: "pinned digest is the candidate", pin: "1.1.0"},
		{name: "pinned digest is an older tag", pin: "1.0.0", promote: true},
		{name: "pinned digest matches no tag", pin: "", report: "matches no tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
				semverRule("cart", "REG/acme/cart", "^1.0.0", "prod"),
			}})
			image := f.reg.host + "/acme/cart"
			digests := map[string]string{}
			for _, tag := range []string{"0.9.0", "1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0", "latest"} {
				digests[tag] = f.reg.push("acme/cart", tag)
			}
			pinned := digests[tt.pin]
			if tt.pin == "" {
				pinned = f.reg.push("acme/cart") // pushed by digest, no tag
			}
			f.man.set("prod", image, "", pinned)
			f.reg.reset()

			rep, err := f.w.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			calls := f.prom.promotions()
			switch {
			case tt.promote && (len(calls) != 1 || calls[0].u.Tag != "1.1.0" || calls[0].u.PreviousDigest != pinned):
				t.Errorf("promotions %+v, want 1.1.0 over the older pinned digest", calls)
			case !tt.promote && len(calls) != 0:
				t.Errorf("promotions %+v: the environment's pinned image was replaced", calls)
			}
			if _, d := f.man.get("prod", image); !tt.promote && d != pinned {
				t.Errorf("prod pins %s, want %s kept", d, pinned)
			}
			if got := strings.Join(rep.Undecided, "\n"); (tt.report == "") != (got == "") || !strings.Contains(got, tt.report) {
				t.Errorf("report.Undecided = %q, want an entry containing %q", rep.Undecided, tt.report)
			}
			// 4 tags the policy can rank (0.9.0 … 2.0.0) besides the candidate: one
			// GET of the candidate, at most one HEAD each.
			if got := f.reg.count("HEAD manifest") + f.reg.count("GET manifest"); got > 6 {
				t.Errorf("%d manifest requests to place the pinned digest", got)
			}
			if tt.report == "" {
				return
			}
			warns := f.logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("cannot tell").Len()
			if warns != 1 {
				t.Errorf("%d 'cannot tell' log lines, want 1", warns)
			}
			// A later check (a new unrelated tag) decides the same: no second warning.
			f.reg.push("acme/cart", "0.1.0")
			rep, err = f.w.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(f.prom.promotions()); n != 0 {
				t.Errorf("%d promotions on the second check", n)
			}
			if len(rep.Undecided) != 1 {
				t.Errorf("second report.Undecided = %q, want the environment again", rep.Undecided)
			}
			if got := f.logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("cannot tell").Len(); got != 1 {
				t.Errorf("%d 'cannot tell' log lines after two checks, want 1", got)
			}
		})
	}
}

// Finding the pinned digest costs a bounded number of requests however many
// tags the repository has.
func TestDigestOnlyPinLookupIsBounded(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 1000, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "prod"),
	}})
	image := f.reg.host + "/acme/cart"
	for i := range 60 {
		f.reg.push("acme/cart", "1.0."+strconv.Itoa(i))
	}
	f.man.set("prod", image, "", f.reg.push("acme/cart")) // untagged
	f.reg.reset()
	rep, err := f.w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.prom.promotions()); n != 0 {
		t.Errorf("%d promotions over an unplaceable pin", n)
	}
	if got := f.reg.count("HEAD manifest") + f.reg.count("GET manifest"); got > maxPinLookups+1 {
		t.Errorf("%d manifest requests, want at most %d", got, maxPinLookups+1)
	}
	if len(rep.Undecided) != 1 || !strings.Contains(rep.Undecided[0], "newest") {
		t.Errorf("report.Undecided = %q, want one entry saying how many tags were checked", rep.Undecided)
	}
}
