package promote

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// CycleFunc tells which unit of work (e.g. a watcher cycle, watch.CycleOf)
// ctx belongs to; ok is false outside one.
type CycleFunc func(ctx context.Context) (id uint64, ok bool)

// CachedReads decorates a write-back with a per-cycle read cache: within one
// cycle (CycleFunc), the first Current of an environment's branch head for a
// given image map reads, concurrent askers wait for that read, and the
// cycle's later askers are answered from it.
//
// The guarantee: an answer rests on a read made during the asker's own
// cycle, after the latest Apply this process made to that environment (an
// Apply drops the environment's entry, whatever its outcome). A new cycle
// reads again, and only the latest cycle's read of an environment is kept.
// Outside a cycle, and for reads at a given revision, every call reads.
// Failed reads are not cached.
type CachedReads struct {
	gitops.Writer
	cycle CycleFunc

	mu    sync.Mutex
	reads map[string]*envRead // environment and image map → the latest cycle's read
}

// envRead is one read of an environment's images, shared by a cycle.
type envRead struct {
	cycle uint64
	env   string
	done  chan struct{}
	imgs  []gitops.Image
	err   error
}

// NewCachedReads wraps w with a read cache keyed by cycle.
func NewCachedReads(w gitops.Writer, cycle CycleFunc) *CachedReads {
	return &CachedReads{Writer: w, cycle: cycle, reads: map[string]*envRead{}}
}

var _ gitops.Writer = (*CachedReads)(nil)

// Current answers from this cycle's read of env when there is one.
func (c *CachedReads) Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]gitops.Image, error) {
	id, inCycle := c.cycle(ctx)
	if !inCycle || at != "" {
		return c.Writer.Current(ctx, env, at, images)
	}
	key := env.Name + "\x00" + imagesKey(images)
	c.mu.Lock()
	r, ok := c.reads[key]
	if !ok || r.cycle != id {
		r = &envRead{cycle: id, env: env.Name, done: make(chan struct{})}
		c.reads[key] = r
		c.mu.Unlock()
		r.imgs, r.err = c.Writer.Current(ctx, env, at, images)
		if r.err != nil {
			c.forget(env.Name, r)
		}
		close(r.done)
		return r.imgs, r.err
	}
	c.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.imgs, nil
}

// Apply lands req and drops the environment's cached read: whatever the
// outcome, the environment may have changed.
func (c *CachedReads) Apply(ctx context.Context, req gitops.Request) (*gitops.Result, error) {
	defer c.forget(req.Env.Name, nil)
	return c.Writer.Apply(ctx, req)
}

// forget drops env's cached reads (only r, when r is given).
func (c *CachedReads) forget(env string, r *envRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cur := range c.reads {
		if cur.env == env && (r == nil || cur == r) {
			delete(c.reads, k)
		}
	}
}

// imagesKey identifies an image map independently of iteration order.
func imagesKey(images map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(images)) {
		b.WriteString(k + "=" + images[k] + "\x00")
	}
	return b.String()
}
