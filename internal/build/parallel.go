package build

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Outcome is what happened to one item of a parallel run.
type Outcome[T any] struct {
	Item T
	Err  error
}

// ForEach calls fn for every item with at most parallelism calls running at once (at least 1) and
// returns one Outcome per item, in input order. A failing item does not stop or affect the others: each
// call gets its own result slot and the shared ctx is never cancelled because of a failure. A panic in
// fn is turned into that item's error.
func ForEach[T any](ctx context.Context, parallelism int, items []T, fn func(ctx context.Context, item T) error) []Outcome[T] {
	if parallelism < 1 {
		parallelism = 1
	}
	out := make([]Outcome[T], len(items))
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i, item := range items {
		out[i].Item = item
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i].Err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					out[i].Err = fmt.Errorf("panic: %v", r)
				}
			}()
			out[i].Err = fn(ctx, item)
		}()
	}
	wg.Wait()
	return out
}

// FailedError summarises a run in which some services failed; it names those that succeeded too, so
// the job summary says exactly what was produced.
type FailedError struct {
	Succeeded []string
	Failed    map[string]error
	order     []string
}

// Summarize returns nil when every outcome succeeded, else a *FailedError. name gives an item's service name.
func Summarize[T any](outcomes []Outcome[T], name func(T) string) error {
	fe := &FailedError{Failed: map[string]error{}}
	for _, o := range outcomes {
		n := name(o.Item)
		if o.Err != nil {
			fe.Failed[n] = o.Err
			fe.order = append(fe.order, n)
		} else {
			fe.Succeeded = append(fe.Succeeded, n)
		}
	}
	if len(fe.Failed) == 0 {
		return nil
	}
	return fe
}

func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d services failed (succeeded: %s)", len(e.Failed), len(e.Failed)+len(e.Succeeded), listOrNone(e.Succeeded))
	for _, n := range e.order {
		fmt.Fprintf(&b, "\n%s: %v", n, e.Failed[n])
	}
	return b.String()
}

// Unwrap exposes the individual failures to errors.Is/As.
func (e *FailedError) Unwrap() []error {
	errs := make([]error, 0, len(e.order))
	for _, n := range e.order {
		errs = append(errs, e.Failed[n])
	}
	return errs
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
