package trivy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"go.uber.org/zap"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/clock"
	"github.com/aquasecurity/trivy/pkg/db"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"

	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/scan"
)

// shared is the process's one open Trivy DB and layer cache. trivy-db keeps
// the open BoltDB in a package variable, so a process can only scan against
// one DB at a time; and the layer cache (fanal.db) takes an exclusive file
// lock. Scanners on the same cache dir therefore share both (reference
// counted), and a second, different cache dir is an error instead of a
// silent switch under a running scan.
//
// scans is held for reading by every scan and for writing while the DB is
// swapped for a newer one (swapDB), so no scan ever reads a closed DB. Lock
// order: scans before mu.
var shared struct {
	scans  sync.RWMutex
	mu     sync.Mutex
	dir    string
	refs   int
	info   gate.DBInfo
	layers cache.Cache
}

// openDB is the metadata of the DB open in this process (the last one, once
// closed).
func openDB() gate.DBInfo {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return shared.info
}

// swapDB replaces the open DB of cacheDir with the one in src (a directory
// holding trivy.db and metadata.json, on the same file system; src may be
// the DB dir itself when its files were replaced there) and records info as
// the open DB. It waits for running scans to finish and holds new ones back
// meanwhile. Trivy keeps one DB per process, so the DB is closed and
// reopened in the same directory, as Trivy's own server does on a hot
// update. Should the new DB not open, the old files are put back and
// reopened.
func swapDB(cacheDir, src string, info gate.DBInfo) error {
	shared.scans.Lock()
	defer shared.scans.Unlock()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.refs == 0 || shared.dir != cacheDir {
		return fmt.Errorf("replacing the vulnerability DB in %q: no scanner has it open", cacheDir)
	}
	dbDir := db.Dir(cacheDir)
	if err := db.Close(); err != nil {
		return fmt.Errorf("closing vulnerability DB %q to replace it: %w", dbDir, err)
	}
	files := []string{"trivy.db", "metadata.json"}
	moved := 0
	if src != dbDir {
		for _, f := range files {
			if err := os.Rename(filepath.Join(dbDir, f), filepath.Join(src, f+".old")); err != nil {
				break
			}
			if err := os.Rename(filepath.Join(src, f), filepath.Join(dbDir, f)); err != nil {
				_ = os.Rename(filepath.Join(src, f+".old"), filepath.Join(dbDir, f))
				break
			}
			moved++
		}
	}
	var err error
	if src != dbDir && moved < len(files) {
		err = fmt.Errorf("moving the new vulnerability DB from %q into %q failed", src, dbDir)
	} else if err = db.Init(dbDir); err == nil {
		shared.info = info
		return nil
	}
	// Put the old DB back (the new files stay in src for the caller to remove).
	for _, f := range files[:moved] {
		_ = os.Rename(filepath.Join(dbDir, f), filepath.Join(src, f))
		_ = os.Rename(filepath.Join(src, f+".old"), filepath.Join(dbDir, f))
	}
	if reopenErr := db.Init(dbDir); reopenErr != nil {
		return fmt.Errorf("opening the new vulnerability DB in %q: %w; reopening the old one: %w", dbDir, err, reopenErr)
	}
	return fmt.Errorf("opening the new vulnerability DB in %q (kept the old one): %w", dbDir, err)
}

// acquire opens (or shares) the DB and layer cache of cacheDir. prepare
// readies the DB files and runs only when the DB is not open yet: a DB in
// use is never replaced under a running scan.
func acquire(cacheDir string, logger *zap.Logger, prepare func() (gate.DBInfo, error)) (gate.DBInfo, cache.Cache, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.refs > 0 {
		if shared.dir != cacheDir {
			return gate.DBInfo{}, nil, fmt.Errorf("opening scan cache dir %q: this process already scans with %q (Trivy allows one DB per process)", cacheDir, shared.dir)
		}
		shared.refs++
		return shared.info, shared.layers, nil
	}
	info, err := prepare()
	if err != nil {
		return gate.DBInfo{}, nil, err
	}
	dbDir := db.Dir(cacheDir)
	if err := db.Init(dbDir); err != nil {
		return gate.DBInfo{}, nil, fmt.Errorf("opening vulnerability DB %q: %w", dbDir, err)
	}
	layers, _, err := cache.New(cache.Options{Backend: "fs", CacheDir: cacheDir})
	if err != nil {
		// The layer cache only saves time: another process holding
		// fanal.db must not fail the scan.
		logger.Warn("layer cache unavailable, analysing every layer", zap.String("cacheDir", cacheDir), zap.Error(err))
		layers = cache.NewMemoryCache()
	}
	shared.dir, shared.refs, shared.info, shared.layers = cacheDir, 1, info, layers
	return info, layers, nil
}

func release() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.refs--
	if shared.refs > 0 {
		return nil
	}
	err := errors.Join(shared.layers.Close(), db.Close())
	shared.dir, shared.layers = "", nil
	return err
}

// prepareDB makes sure cacheDir holds a usable DB: it downloads one when the
// local copy is missing or past its NextUpdate (unless updates are skipped),
// trying each repository in order, and falls back to the local copy when
// every mirror fails but the copy is younger than maxAge. It returns the
// metadata of the DB to open.
func (t *Trivy) prepareDB(ctx context.Context) (gate.DBInfo, error) {
	o := t.opts
	dbDir := db.Dir(o.cacheDir)
	ctx = clock.With(ctx, o.now())
	local, localErr := readDBInfo(dbDir)

	skip := o.skipDBUpdate || o.offline
	if !skip {
		needs, err := db.NewClient(dbDir, true).NeedsUpdate(ctx, "", false)
		if err != nil {
			return gate.DBInfo{}, &scan.DBError{Problem: err.Error(), CacheDir: o.cacheDir, Hint: "delete " + dbDir + " and run again with network access"}
		}
		if needs {
			mirrors, err := t.download(ctx, dbDir)
			if err != nil {
				if localErr != nil {
					return gate.DBInfo{}, &scan.DBError{Problem: "no DB in " + dbDir + " and none could be downloaded", CacheDir: o.cacheDir, Mirrors: mirrors,
						Hint: "fix access to one of scan.dbRepositories, or set scan.cacheDir to a directory holding db/trivy.db and db/metadata.json"}
				}
				if age := o.now().Sub(local.UpdatedAt); age > o.maxDBAge {
					return gate.DBInfo{}, &scan.DBError{Problem: fmt.Sprintf("the DB in %s is %s old (scan.maxDBAge %s) and could not be updated", dbDir, age.Round(time.Minute), o.maxDBAge),
						CacheDir: o.cacheDir, Mirrors: mirrors, Hint: "fix access to one of scan.dbRepositories or add a reachable mirror"}
				}
				t.logger.Warn("vulnerability DB update failed, using the cached DB", zap.String("dbDir", dbDir),
					zap.Time("dbUpdatedAt", local.UpdatedAt), zap.Error(errors.Join(mirrorErrs(mirrors)...)))
			}
		}
	} else if localErr != nil {
		return gate.DBInfo{}, &scan.DBError{Problem: fmt.Sprintf("no usable DB in %s (%v) and updates are off (offline or skipDBUpdate)", dbDir, localErr), CacheDir: o.cacheDir,
			Hint: "run once with network access and scan.skipDBUpdate/offline unset, or set scan.cacheDir to a directory holding db/trivy.db and db/metadata.json"}
	}

	info, err := readDBInfo(dbDir)
	if err != nil {
		return gate.DBInfo{}, &scan.DBError{Problem: err.Error(), CacheDir: o.cacheDir, Hint: "delete " + dbDir + " and run again with network access"}
	}
	if info.SchemaVersion != trivydb.SchemaVersion {
		return gate.DBInfo{}, &scan.DBError{Problem: fmt.Sprintf("the DB in %s has schema %d, this build needs %d", dbDir, info.SchemaVersion, trivydb.SchemaVersion),
			CacheDir: o.cacheDir, Hint: "run once with network access to download a matching DB"}
	}
	if age := o.now().Sub(info.UpdatedAt); age > o.maxDBAge {
		return gate.DBInfo{}, &scan.DBError{Problem: fmt.Sprintf("the DB in %s was built %s ago (%s), older than scan.maxDBAge %s", dbDir, age.Round(time.Minute), info.UpdatedAt.UTC().Format(time.RFC3339), o.maxDBAge),
			CacheDir: o.cacheDir, Hint: "run once with network access (unset scan.offline and scan.skipDBUpdate) to refresh it, or raise scan.maxDBAge knowingly"}
	}
	return info, nil
}

// download tries each repository in turn until one succeeds, writing the DB
// into dst, and returns the failures of the ones tried.
func (t *Trivy) download(ctx context.Context, dst string) ([]scan.MirrorError, error) {
	var failed []scan.MirrorError
	for _, repo := range t.opts.repos {
		t.logger.Info("downloading vulnerability DB", zap.String("repository", repo.String()))
		client := db.NewClient(dst, true, db.WithDBRepository([]name.Reference{repo}))
		err := client.Download(ctx, dst, ftypes.RegistryOptions{})
		if err == nil {
			return failed, nil
		}
		failed = append(failed, scan.MirrorError{Repository: repo.String(), Err: err})
		if ctx.Err() != nil {
			break
		}
	}
	if len(t.opts.repos) == 0 {
		return nil, errors.New("no DB repositories configured")
	}
	return failed, errors.New("every DB repository failed")
}

func mirrorErrs(ms []scan.MirrorError) []error {
	out := make([]error, len(ms))
	for i, m := range ms {
		out[i] = fmt.Errorf("%s: %w", m.Repository, m.Err)
	}
	return out
}

// readDBInfo reads metadata.json and checks trivy.db exists next to it.
func readDBInfo(dbDir string) (gate.DBInfo, error) {
	if _, err := os.Stat(filepath.Join(dbDir, "trivy.db")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return gate.DBInfo{}, fmt.Errorf("%s does not exist", filepath.Join(dbDir, "trivy.db"))
		}
		return gate.DBInfo{}, err
	}
	m, err := metadata.NewClient(dbDir).Get()
	if err != nil {
		return gate.DBInfo{}, fmt.Errorf("reading %s: %w", filepath.Join(dbDir, "metadata.json"), err)
	}
	return gate.DBInfo{SchemaVersion: m.Version, UpdatedAt: m.UpdatedAt, NextUpdate: m.NextUpdate, DownloadedAt: m.DownloadedAt}, nil
}
