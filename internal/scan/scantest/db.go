// Package scantest builds what scanner tests need without any network: a
// small Trivy vulnerability DB loaded from YAML fixtures (the way Trivy's own
// internal/dbtest does, with bolt-fixtures and trivy-db's metadata), and OCI
// image layouts carrying an Alpine openssl package, a Go binary and an npm
// package at vulnerable or fixed versions.
//
// Only tests import it.
package scantest

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	fixtures "github.com/aquasecurity/bolt-fixtures"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
)

//go:embed fixtures/*.yaml
var fixtureFS embed.FS

// The advisories in the fixture DB.
const (
	// OpenSSLCritical affects openssl < 3.1.4-r0 on Alpine 3.18 (CRITICAL).
	OpenSSLCritical = "CVE-2023-9999"
	// OpenSSLMedium affects openssl < 3.1.2-r0 on Alpine 3.18 (MEDIUM).
	OpenSSLMedium = "CVE-2023-9998"
	// TextHigh affects golang.org/x/text < 0.27.0 (HIGH).
	TextHigh = "CVE-2024-9997"
	// LodashMedium affects the npm package lodash < 4.17.21 (MEDIUM).
	LodashMedium = "CVE-2021-9996"

	// OpenSSLVulnerable and OpenSSLFixed are installed openssl versions.
	OpenSSLVulnerable = "3.1.0-r0"
	OpenSSLFixed      = "3.1.4-r0"
	// TextVulnerable and TextFixed are golang.org/x/text versions; both must
	// be in the local module cache (they are compiled into a test binary).
	TextVulnerable = "v0.21.0"
	TextFixed      = "v0.27.0"
	// LodashVulnerable and LodashFixed are npm lodash versions.
	LodashVulnerable = "4.17.20"
	LodashFixed      = "4.17.21"
)

// DBMeta sets the metadata written next to the fixture DB.
type DBMeta struct {
	UpdatedAt    time.Time
	NextUpdate   time.Time
	DownloadedAt time.Time
}

// FreshDB is metadata for a DB built an hour ago, next update in 23 hours:
// what a CI cache normally holds.
func FreshDB(now time.Time) DBMeta {
	return DBMeta{UpdatedAt: now.Add(-time.Hour), NextUpdate: now.Add(23 * time.Hour), DownloadedAt: now.Add(-30 * time.Minute)}
}

// WriteDB writes <cacheDir>/db/trivy.db from the embedded fixtures and
// <cacheDir>/db/metadata.json from meta (schema version 2), the layout
// `trivy --cache-dir` and the scanner read.
func WriteDB(cacheDir string, meta DBMeta) error {
	dbDir := filepath.Join(cacheDir, "db")
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", dbDir, err)
	}
	names, err := fixtureFS.ReadDir("fixtures")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "scantest-fixtures-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var files []string
	for _, n := range names {
		b, err := fixtureFS.ReadFile("fixtures/" + n.Name())
		if err != nil {
			return err
		}
		p := filepath.Join(tmp, n.Name())
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		files = append(files, p)
	}
	dbPath := filepath.Join(dbDir, "trivy.db")
	if err := os.Remove(dbPath); err != nil && !os.IsNotExist(err) {
		return err
	}
	loader, err := fixtures.New(dbPath, files)
	if err != nil {
		return fmt.Errorf("loading fixtures into %q: %w", dbPath, err)
	}
	if err := loader.Load(); err != nil {
		_ = loader.Close()
		return fmt.Errorf("loading fixtures into %q: %w", dbPath, err)
	}
	if err := loader.Close(); err != nil {
		return err
	}
	return WriteMetadata(cacheDir, meta)
}

// WriteMetadata rewrites only metadata.json, e.g. to age an existing DB.
func WriteMetadata(cacheDir string, meta DBMeta) error {
	return metadata.NewClient(filepath.Join(cacheDir, "db")).Update(metadata.Metadata{
		Version:      2,
		UpdatedAt:    meta.UpdatedAt.UTC(),
		NextUpdate:   meta.NextUpdate.UTC(),
		DownloadedAt: meta.DownloadedAt.UTC(),
	})
}

// NewDB builds a fixture DB in a fresh temporary cache dir and returns the dir.
func NewDB(tb testing.TB, meta DBMeta) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := WriteDB(dir, meta); err != nil {
		tb.Fatal(err)
	}
	return dir
}
