package build

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestForEachIsolatesFailuresAndBoundsConcurrency(t *testing.T) {
	items := []string{"a", "b", "bad", "c", "boom", "d"}
	var mu sync.Mutex
	running, peak := 0, 0
	release := make(chan struct{})
	started := make(chan struct{}, len(items))
	go func() {
		// Hold every call until two are in flight, so the bound is actually reached.
		<-started
		<-started
		close(release)
	}()
	outcomes := ForEach(context.Background(), 2, items, func(_ context.Context, s string) error {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		started <- struct{}{}
		<-release
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		switch s {
		case "bad":
			return errors.New("bad Dockerfile")
		case "boom":
			panic("exploded")
		}
		return nil
	})
	if peak != 2 {
		t.Errorf("%d calls ran at once, want exactly the bound 2", peak)
	}
	for i, o := range outcomes {
		if o.Item != items[i] {
			t.Errorf("outcome %d is for %q, want %q (input order)", i, o.Item, items[i])
		}
		if wantErr := o.Item == "bad" || o.Item == "boom"; (o.Err != nil) != wantErr {
			t.Errorf("%s: err = %v", o.Item, o.Err)
		}
	}
	err := Summarize(outcomes, func(s string) string { return s })
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("summary = %v, want *FailedError", err)
	}
	msg := err.Error()
	for _, want := range []string{"2 of 6 services failed", "succeeded: a, b, c, d", "bad: bad Dockerfile", "boom: panic: exploded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("summary %q lacks %q", msg, want)
		}
	}
	if Summarize(outcomes[:2], func(s string) string { return s }) != nil {
		t.Error("all-success summary is not nil")
	}
}
