package scan

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/gate"
)

// DBRefresher brings a scanner's vulnerability DB up to date while the
// process runs; *Trivy is one.
type DBRefresher interface {
	// RefreshDB updates the DB when an update is due. It fails only when
	// scanning must not go on: the DB is past its max age and could not be
	// updated.
	RefreshDB(ctx context.Context) error
}

// Refreshing wraps a Scanner so that a process that outlives its
// vulnerability DB (the watcher, running for weeks) keeps scanning with a
// current one instead of failing every scan once the DB is older than
// scan.maxDBAge: before each scan it lets the DBRefresher update the DB when
// due. Put it outside Caching (NewRefreshing(NewCaching(t), t)) so the cache
// key names the DB the scan will use; reports of an older DB are then never
// served again.
type Refreshing struct {
	inner Scanner
	db    DBRefresher
}

var _ Scanner = (*Refreshing)(nil)

// NewRefreshing returns inner, refreshing db's DB before each scan.
func NewRefreshing(inner Scanner, db DBRefresher) *Refreshing {
	return &Refreshing{inner: inner, db: db}
}

// Scan refreshes the DB when due, then scans with inner.
func (r *Refreshing) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	if err := r.db.RefreshDB(ctx); err != nil {
		return nil, fmt.Errorf("scanning image %q: %w", ref, err)
	}
	return r.inner.Scan(ctx, ref, img)
}

// DB is the wrapped scanner's DB.
func (r *Refreshing) DB() gate.DBInfo { return r.inner.DB() }
