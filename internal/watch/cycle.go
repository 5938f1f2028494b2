package watch

import "context"

type cycleKey struct{}

// CycleOf returns the identity of the watcher cycle ctx belongs to: every
// check of one poll cycle shares it; each webhook-triggered check, and each
// re-run of a check that a trigger asked for while it was running, gets a new
// one. Identities only grow, and none is reused within a process.
//
// It lets a CurrentReader read an environment once per cycle and serve the
// cycle's other rules from that read: a decision then never rests on a read
// made before the cycle started. ok is false outside a watcher cycle (read
// through, cache nothing).
func CycleOf(ctx context.Context) (id uint64, ok bool) {
	id, ok = ctx.Value(cycleKey{}).(uint64)
	return id, ok
}

// newCycle returns ctx tagged with a fresh cycle identity.
func (w *Watcher) newCycle(ctx context.Context) context.Context {
	return context.WithValue(ctx, cycleKey{}, w.cycles.Add(1))
}
