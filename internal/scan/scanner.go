// Package scan is the vulnerability gate's scanner as the rest of automator
// sees it, without linking Trivy: the Scanner interface and its decorators
// (Caching, Refreshing), OCI layouts, and Process, the client of the
// automator-scan executable that runs Trivy as a library (package
// scan/trivy, linked only into cmd/automator-scan).
//
// Why a second executable: Go initialises every linked package before main
// runs, and the Trivy packages a vulnerability scan needs pull in its secret
// rules, compliance specs, Kubernetes schemes and DB downloader, ~90% of a
// process's start-up CPU and ~100 MiB of resident memory that commands which
// never scan (rewrite, plan, copy, promote without a gate) paid on every run.
// The two binaries speak the small JSON protocol of proto.go over the
// scanner's stdin and stdout; images cross over a loopback registry served
// from the calling process (imageserver.go), so the scanner reads only the
// layers its cache lacks and never talks to a real registry itself.
package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
)

// Scanner scans one image. Implementations must be safe for concurrent use.
//
// ref is how the image is named in reports (a reference or a layout path);
// img is the image itself, whose manifest digest identifies the result. The
// returned report is shared (see Caching) and must be treated as read-only.
type Scanner interface {
	Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error)
	// DB describes the vulnerability DB scans run against.
	DB() gate.DBInfo
}

// Overrides are command-line settings over the scan section of the config:
// a non-empty CacheDir replaces scan.cacheDir, and Offline and SkipDBUpdate
// turn on what the config left off (a flag never turns a setting off).
type Overrides struct {
	CacheDir              string
	Offline, SkipDBUpdate bool
}

// Apply returns c with o over it, for WithConfig.
func (o Overrides) Apply(c config.Scan) config.Scan {
	if o.CacheDir != "" {
		c.CacheDir = o.CacheDir
	}
	c.Offline = c.Offline || o.Offline
	c.SkipDBUpdate = c.SkipDBUpdate || o.SkipDBUpdate
	return c
}

// DefaultCacheDir is $XDG_CACHE_HOME/automator/trivy (or the OS equivalent).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir for scan.cacheDir: %w", err)
	}
	return filepath.Join(d, "automator", "trivy"), nil
}

// DBError says why the vulnerability DB cannot be used and how to fix it.
// The scanner never scans with a missing or too old DB: a gate that passes
// because it knew of no vulnerability is worse than a failed job.
type DBError struct {
	// Problem is what is wrong, e.g. "no vulnerability DB in /cache/db".
	Problem string
	// CacheDir is the cache directory that was used.
	CacheDir string
	// Mirrors are the repositories tried, in order, with why each failed.
	Mirrors []MirrorError
	// Hint says how to fix it.
	Hint string
}

// MirrorError is one DB repository that could not be used.
type MirrorError struct {
	Repository string
	Err        error
}

func (e *DBError) Error() string {
	var b strings.Builder
	b.WriteString("vulnerability DB: ")
	b.WriteString(e.Problem)
	if len(e.Mirrors) > 0 {
		b.WriteString("; mirrors tried: ")
		for i, m := range e.Mirrors {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%v)", m.Repository, m.Err)
		}
	}
	if e.Hint != "" {
		b.WriteString(". ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap exposes the mirrors' errors.
func (e *DBError) Unwrap() []error {
	errs := make([]error, len(e.Mirrors))
	for i, m := range e.Mirrors {
		errs[i] = m.Err
	}
	return errs
}
