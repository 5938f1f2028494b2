// Package freeze decides whether an environment is in a freeze window: a
// recurring period (cron-style start, a duration, a time zone) during which
// nothing is committed to it. Windows are pure values over an injected
// time, so tests and the CLI's callers choose the clock.
package freeze

import (
	"errors"
	"fmt"
	"sort"
	"time"
	_ "time/tzdata" // time zones resolve in minimal containers too

	"github.com/robfig/cron/v3"
)

// Window is one recurring freeze window.
type Window struct {
	// Start is the cron expression (five fields) of the window's starts.
	Start string
	// Duration is how long each window lasts from a start.
	Duration time.Duration
	// Location is the time zone Start is read in.
	Location *time.Location
	// Reason is shown to people (PR label text, logs).
	Reason string

	sched cron.Schedule
}

// Parse builds a window; start is a standard five-field cron expression
// (robfig/cron's parser: a well-kept implementation, not written by hand),
// duration a positive Go duration, tz an IANA time zone ("" = UTC).
func Parse(start, duration, tz, reason string) (Window, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return Window{}, fmt.Errorf("timeZone %q: unknown time zone", tz)
		}
		loc = l
	}
	d, err := time.ParseDuration(duration)
	if err != nil {
		return Window{}, fmt.Errorf("duration %q: want a Go duration such as 48h", duration)
	}
	if d <= 0 {
		return Window{}, fmt.Errorf("duration %q: a window must last a positive time", duration)
	}
	sched, err := cron.ParseStandard(start)
	if err != nil {
		return Window{}, fmt.Errorf("start %q: %w", start, err)
	}
	return Window{Start: start, Duration: d, Location: loc, Reason: reason, sched: sched}, nil
}

// Period is one occurrence of a window.
type Period struct {
	From, Until time.Time
	Window      *Window
}

// at returns the occurrence of w that contains now, if any: the latest
// start in (now-Duration, now].
func (w *Window) at(now time.Time) (Period, bool) {
	s := w.sched.Next(now.In(w.Location).Add(-w.Duration))
	if s.After(now) {
		return Period{}, false
	}
	return Period{From: s, Until: s.Add(w.Duration), Window: w}, true
}

// Windows are an environment's freeze windows.
type Windows []Window

// At reports the freeze period now falls in (ok false when none).
func (ws Windows) At(now time.Time) (Period, bool) {
	for i := range ws {
		if p, ok := ws[i].at(now); ok {
			return p, true
		}
	}
	return Period{}, false
}

// ErrOverlap is returned by Check for windows whose periods overlap.
var ErrOverlap = errors.New("freeze windows overlap")

// maxStarts bounds how many starts of one window Check looks at.
const maxStarts = 5000

// Check reports the first overlap between the periods of ws (a window with
// itself too: a duration longer than the gap between two starts) over the
// horizon from from; the error names both windows' indexes.
func (ws Windows) Check(from time.Time, horizon time.Duration) error {
	var ps []struct {
		i    int
		f, u time.Time
	}
	end := from.Add(horizon)
	for i := range ws {
		w := &ws[i]
		t := from.In(w.Location)
		for n := 0; n < maxStarts; n++ {
			t = w.sched.Next(t)
			if t.IsZero() || t.After(end) {
				break
			}
			ps = append(ps, struct {
				i    int
				f, u time.Time
			}{i, t, t.Add(w.Duration)})
		}
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].f.Before(ps[b].f) })
	last := 0 // the period reaching furthest so far
	for k := 1; k < len(ps); k++ {
		if ps[k].f.Before(ps[last].u) {
			return fmt.Errorf("windows[%d] starting %s and windows[%d] starting %s: %w", ps[last].i, ps[last].f.Format(time.RFC3339), ps[k].i, ps[k].f.Format(time.RFC3339), ErrOverlap)
		}
		if ps[k].u.After(ps[last].u) {
			last = k
		}
	}
	return nil
}
