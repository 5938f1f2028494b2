package trivy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy/pkg/clock"
	"github.com/aquasecurity/trivy/pkg/db"

	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/scan"
)

// Retry intervals of RefreshDB: after an attempt, whatever its outcome, the
// next one waits an hour (Trivy's own rule, so a late upstream is not
// hammered), or five minutes while the DB is too old to scan with.
const (
	refreshRetry      = time.Hour
	refreshRetryStale = 5 * time.Minute
)

// refreshState is RefreshDB's memory: when to try next, the last failure
// and whether it was already logged.
type refreshState struct {
	mu        sync.Mutex
	notBefore time.Time
	lastErr   error
	warned    bool
}

var _ scan.DBRefresher = (*Trivy)(nil)

// RefreshDB updates the open DB when it is due: once the DB's NextUpdate
// has passed or it is older than half of scan.maxDBAge, and at most once an
// hour (every five minutes while the DB is past its max age). It downloads
// from scan.dbRepositories in order into a temporary directory next to the
// DB, or, offline or with skipDBUpdate, picks up a newer DB that someone
// else placed in the cache dir; a newer DB then replaces the open one
// between scans (see swapDB). When the update fails but the DB is still
// younger than scan.maxDBAge, scanning goes on with it and the failure is
// logged once; past the max age it returns the *DBError, and so does every
// call until an update succeeds. Safe for concurrent use: concurrent callers
// wait for the one update in progress.
func (t *Trivy) RefreshDB(ctx context.Context) error {
	st := &t.refresh
	st.mu.Lock()
	defer st.mu.Unlock()
	now := t.opts.now()
	cur := t.DB()
	stale := now.Sub(cur.UpdatedAt) > t.opts.maxDBAge
	due := !now.Before(cur.NextUpdate) || now.Sub(cur.UpdatedAt) > t.opts.maxDBAge/2
	if !due || now.Before(st.notBefore) {
		if stale {
			return st.lastErr // nil: Scan's own age check reports it
		}
		return nil
	}
	st.notBefore = now.Add(refreshRetry)
	next, err := t.updateDB(ctx)
	if err == nil {
		st.lastErr, st.warned = nil, false
		if next.Version() != cur.Version() {
			t.logger.Info("vulnerability DB updated", zap.Time("dbUpdatedAt", next.UpdatedAt), zap.Time("dbNextUpdate", next.NextUpdate),
				zap.Time("previousDBUpdatedAt", cur.UpdatedAt))
		}
		return nil
	}
	if ctx.Err() != nil {
		st.notBefore = time.Time{} // cancelled, not failed: the next scan tries again
		return err
	}
	if !stale {
		if !st.warned {
			t.logger.Warn("vulnerability DB update failed, scanning with the current DB", zap.Time("dbUpdatedAt", cur.UpdatedAt),
				zap.Duration("maxDBAge", t.opts.maxDBAge), zap.Error(err))
			st.warned = true
		}
		return nil
	}
	st.notBefore = now.Add(refreshRetryStale)
	e := &scan.DBError{CacheDir: t.opts.cacheDir, Hint: "fix access to one of scan.dbRepositories or add a reachable mirror (offline: place a newer DB in scan.cacheDir)"}
	var dbe *scan.DBError
	if errors.As(err, &dbe) {
		e.Mirrors = dbe.Mirrors
	}
	e.Problem = fmt.Sprintf("the open DB is %s old (scan.maxDBAge %s) and could not be updated: %s", now.Sub(cur.UpdatedAt).Round(time.Minute), t.opts.maxDBAge, problemOf(err))
	st.lastErr = e
	return e
}

func problemOf(err error) string {
	var dbe *scan.DBError
	if errors.As(err, &dbe) {
		return dbe.Problem
	}
	return err.Error()
}

// updateDB fetches a DB (or, without updates, rereads the cache dir) and
// swaps it in when it is newer than the open one. It returns the DB in use
// afterwards.
func (t *Trivy) updateDB(ctx context.Context) (gate.DBInfo, error) {
	o := t.opts
	dbDir := db.Dir(o.cacheDir)
	src := dbDir
	if !o.skipDBUpdate && !o.offline {
		tmp, err := os.MkdirTemp(o.cacheDir, "db-update-")
		if err != nil {
			return gate.DBInfo{}, fmt.Errorf("creating a directory for the DB update in %q: %w", o.cacheDir, err)
		}
		defer os.RemoveAll(tmp)
		mirrors, err := t.download(clock.With(ctx, o.now()), tmp)
		if err != nil {
			return gate.DBInfo{}, &scan.DBError{Problem: "every DB repository failed", CacheDir: o.cacheDir, Mirrors: mirrors}
		}
		src = tmp
	}
	next, err := readDBInfo(src)
	if err != nil {
		return gate.DBInfo{}, &scan.DBError{Problem: err.Error(), CacheDir: o.cacheDir}
	}
	if next.SchemaVersion != trivydb.SchemaVersion {
		return gate.DBInfo{}, &scan.DBError{Problem: fmt.Sprintf("the new DB has schema %d, this build needs %d", next.SchemaVersion, trivydb.SchemaVersion), CacheDir: o.cacheDir}
	}
	cur := t.DB()
	if !next.UpdatedAt.After(cur.UpdatedAt) {
		return cur, nil // upstream has not published a newer one yet
	}
	if err := swapDB(o.cacheDir, src, next); err != nil {
		return gate.DBInfo{}, &scan.DBError{Problem: err.Error(), CacheDir: o.cacheDir}
	}
	return next, nil
}
