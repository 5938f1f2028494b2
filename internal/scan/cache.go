package scan

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/gate"
)

// Caching wraps a Scanner so that each image digest is scanned once per DB
// version: a run promoting one digest to three environments scans it once
// and applies three policies to the same report. Concurrent requests for the
// same digest wait for the one scan in flight. Failed scans are not cached.
//
// The key is the manifest digest plus the DB version, so a DB update between
// two calls (a long-running watcher) rescans instead of serving stale results;
// the first scan under a new DB version drops the reports of older ones, so a
// process that runs for weeks keeps only the current DB's reports.
type Caching struct {
	inner Scanner

	mu      sync.Mutex
	version string // the DB version of the latest scan
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	version string
	done    chan struct{}
	report  *gate.Report
	err     error
}

var _ Scanner = (*Caching)(nil)

// NewCaching returns inner wrapped with a per-process digest cache.
func NewCaching(inner Scanner) *Caching {
	return &Caching{inner: inner, entries: map[string]*cacheEntry{}}
}

// DB is the wrapped scanner's DB.
func (c *Caching) DB() gate.DBInfo { return c.inner.DB() }

// Scan returns the cached report for img's digest, scanning on a miss. The
// report's Image.Ref is the ref of this call; everything else is shared.
func (c *Caching) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the digest of image %q: %w", ref, err)
	}
	version := c.inner.DB().Version()
	key := d.String() + "|" + version

	c.mu.Lock()
	if version != c.version {
		for k, old := range c.entries {
			if old.version != version {
				delete(c.entries, k) // waiters keep their entry
			}
		}
		c.version = version
	}
	e, ok := c.entries[key]
	if !ok {
		e = &cacheEntry{version: version, done: make(chan struct{})}
		c.entries[key] = e
	}
	c.mu.Unlock()

	if !ok {
		e.report, e.err = c.inner.Scan(ctx, ref, img)
		if e.err != nil {
			c.mu.Lock()
			delete(c.entries, key)
			c.mu.Unlock()
		}
		close(e.done)
	} else {
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	r := e.report.Clone()
	r.Image.Ref = ref
	return r, nil
}

// Len is the number of cached reports (for tests and metrics).
func (c *Caching) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
