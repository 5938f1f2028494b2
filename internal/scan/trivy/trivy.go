// Package trivy is the vulnerability scanner behind automator's gate: Trivy
// linked as a library. Only cmd/automator-scan imports it (see package scan
// for why the scanner is its own executable); what it returns is gate.Report,
// so nothing downstream sees a Trivy type.
//
// The wiring follows Trivy's own `trivy image` (pkg/commands/artifact):
// image artifact → local scan service (applier, OS and language package
// scanners, vulnerability client) → report, with the vulnerability scanner
// only, OS and library packages, and the same analyzers enabled. Images come
// in as go-containerregistry images, so an OCI layout from the build (before
// push) and a remote image are scanned the same way.
package trivy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	trivydbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	artimage "github.com/aquasecurity/trivy/pkg/fanal/artifact/image"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	"github.com/aquasecurity/trivy/pkg/javadb"
	trivyscan "github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local"
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/scan"
)

var _ scan.Scanner = (*Trivy)(nil)

// Trivy is the Scanner backed by Trivy. Create it with New, Close it when done.
type Trivy struct {
	opts    options
	logger  *zap.Logger
	cache   cache.Cache
	backend local.Service
	version string

	refresh refreshState

	closeOnce sync.Once
	closeErr  error
}

type options struct {
	cacheDir     string
	repos        []name.Reference
	skipDBUpdate bool
	offline      bool
	maxDBAge     time.Duration
	logger       *zap.Logger
	now          func() time.Time
	parallel     int
}

// Option configures New.
type Option func(*options) error

// WithCacheDir sets the directory holding db/ (the vulnerability DB), java-db/
// and fanal/ (the layer cache). It is created when missing.
func WithCacheDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("scan cache dir must not be empty")
		}
		o.cacheDir = dir
		return nil
	}
}

// WithDBRepositories sets the OCI repositories of the Trivy DB, tried in order.
func WithDBRepositories(repos ...string) Option {
	return func(o *options) error {
		o.repos = o.repos[:0]
		for i, r := range repos {
			ref, err := name.ParseReference(r)
			if err != nil {
				return fmt.Errorf("scan.dbRepositories[%d]: parsing %q: %w", i, r, err)
			}
			o.repos = append(o.repos, ref)
		}
		return nil
	}
}

// WithSkipDBUpdate uses the DB already in the cache dir without checking for
// a newer one; the DB must exist and be younger than the max age.
func WithSkipDBUpdate(skip bool) Option {
	return func(o *options) error { o.skipDBUpdate = skip; return nil }
}

// WithOffline never reaches the network: no DB or Java DB update and no
// online lookups by analyzers. It implies WithSkipDBUpdate.
func WithOffline(offline bool) Option {
	return func(o *options) error { o.offline = offline; return nil }
}

// WithMaxDBAge rejects a DB built longer ago than d (from its UpdatedAt).
func WithMaxDBAge(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("scan.maxDBAge must be positive, got %s", d)
		}
		o.maxDBAge = d
		return nil
	}
}

// WithLogger receives the scanner's own logs and Trivy's (routed through
// log/slog; Trivy's informational messages are logged at debug level).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error { o.logger = l; return nil }
}

// WithClock replaces time.Now, for DB age checks and report timestamps.
func WithClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}

// WithConfig applies the scan section of automator.yaml.
func WithConfig(c config.Scan) Option {
	return func(o *options) error {
		if c.CacheDir != "" {
			if err := WithCacheDir(c.CacheDir)(o); err != nil {
				return err
			}
		}
		if len(c.DBRepositories) > 0 {
			if err := WithDBRepositories(c.DBRepositories...)(o); err != nil {
				return err
			}
		}
		if c.MaxDBAge != "" {
			d, err := time.ParseDuration(c.MaxDBAge)
			if err != nil {
				return fmt.Errorf("scan.maxDBAge: %w", err)
			}
			if err := WithMaxDBAge(d)(o); err != nil {
				return err
			}
		}
		o.skipDBUpdate = c.SkipDBUpdate
		o.offline = c.Offline
		return nil
	}
}

// New prepares a Trivy scanner: it checks (and unless skipped, updates) the
// vulnerability DB, refusing a missing or too old one with a *DBError, then
// opens the DB and the layer cache. Defaults: the DB repositories and max age
// of config.Scan's defaults, DefaultCacheDir.
func New(ctx context.Context, opts ...Option) (*Trivy, error) {
	o := options{maxDBAge: 168 * time.Hour, now: time.Now, parallel: 5, logger: zap.NewNop()}
	if err := WithDBRepositories("mirror.gcr.io/aquasec/trivy-db:2", "ghcr.io/aquasecurity/trivy-db:2")(&o); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.cacheDir == "" {
		d, err := scan.DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		o.cacheDir = d
	}
	if err := os.MkdirAll(o.cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating scan cache dir %q: %w", o.cacheDir, err)
	}
	routeTrivyLogs(o.logger)

	t := &Trivy{opts: o, logger: o.logger, version: Version()}
	info, layers, err := acquire(o.cacheDir, o.logger, func() (gate.DBInfo, error) { return t.prepareDB(ctx) })
	if err != nil {
		return nil, err
	}
	t.cache = layers
	javadb.Init(o.cacheDir, defaultJavaDBRepos(), o.skipDBUpdate || o.offline, true, ftypes.RegistryOptions{})
	t.backend = local.NewService(applier.NewApplier(layers), ospkg.NewScanner(), langpkg.NewScanner(), vulnerability.NewClient(trivydb.Config{}))
	t.logger.Debug("vulnerability DB ready", zap.String("cacheDir", o.cacheDir), zap.Time("dbUpdatedAt", info.UpdatedAt),
		zap.Time("dbNextUpdate", info.NextUpdate), zap.String("scanner", t.version))
	return t, nil
}

// DB describes the DB scans of this scanner use now: the process's open DB,
// which RefreshDB may replace with a newer one.
func (t *Trivy) DB() gate.DBInfo { return openDB() }

// Close releases the layer cache and the DB.
func (t *Trivy) Close() error {
	t.closeOnce.Do(func() {
		t.closeErr = release()
	})
	return t.closeErr
}

// Scan analyses img's layers (each layer once per cache dir: Trivy's layer
// cache is keyed by layer digest) and reports every vulnerability found in
// OS and language packages, unfiltered. A scanner that has outlived its DB
// (older than the max age by now) refuses with a *DBError; long-running
// callers wrap it in NewRefreshing, which updates the DB when due.
func (t *Trivy) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading the digest of image %q: %w", ref, err)
	}
	// The DB is not replaced while a scan runs (see swapDB).
	shared.scans.RLock()
	defer shared.scans.RUnlock()
	info := openDB()
	if age := t.opts.now().Sub(info.UpdatedAt); age > t.opts.maxDBAge {
		// A long-running process (the watcher) outlived its DB.
		return nil, &scan.DBError{Problem: fmt.Sprintf("the DB opened from %s is now %s old, older than scan.maxDBAge %s", t.opts.cacheDir, age.Round(time.Minute), t.opts.maxDBAge),
			CacheDir: t.opts.cacheDir, Hint: "let it update (network access to one of scan.dbRepositories, scan.offline and scan.skipDBUpdate unset) or place a newer DB in scan.cacheDir"}
	}
	art, err := newArtifact(trivyImage{Image: img, name: ref}, t.cache, t.artifactOption())
	if err != nil {
		return nil, fmt.Errorf("preparing the scan of image %q: %w", ref, err)
	}
	res, err := trivyscan.NewService(t.backend, art).ScanArtifact(ctx, scanOptions())
	if err != nil {
		return nil, fmt.Errorf("scanning image %q (%s): %w", ref, digest, err)
	}
	r := &gate.Report{
		Image:     gate.Image{Ref: ref, Digest: digest.String()},
		DB:        info,
		ScannedAt: t.opts.now().UTC(),
		Scanner:   t.version,
		Findings:  findings(res.Results),
	}
	if dist := res.Metadata.OS; dist != nil && dist.Family != "" && dist.Family != "none" {
		r.Image.OS = strings.TrimSpace(string(dist.Family) + " " + dist.Name)
	}
	return r, nil
}

// artifactMu serialises building artifacts: Trivy initialises its global
// analyzer instances (egg, dpkg license, secret keywords) in
// NewAnalyzerGroup, which concurrent scans would otherwise race on.
var artifactMu sync.Mutex

func newArtifact(img trivyImage, c cache.Cache, opt artifact.Option) (artifact.Artifact, error) {
	artifactMu.Lock()
	defer artifactMu.Unlock()
	return artimage.NewArtifact(img, c, opt)
}

// artifactOption mirrors what `trivy image --scanners vuln` passes.
func (t *Trivy) artifactOption() artifact.Option {
	return artifact.Option{
		DisabledAnalyzers: disabledAnalyzers(),
		Parallel:          t.opts.parallel,
		Offline:           t.opts.offline,
		NoProgress:        true,
		DetectionPriority: ftypes.PriorityPrecise,
	}
}

// disabledAnalyzers is the list pkg/commands/artifact computes for the image
// command with --scanners vuln and default package types: lock files (image
// scans read installed packages only), apk history, secrets, config files,
// license files, the Dockerfile in history, executables without Rekor, and
// RPM archives.
func disabledAnalyzers() []analyzer.Type {
	out := slices.Clone(analyzer.TypeLockfiles)
	out = append(out, analyzer.TypeApkCommand, analyzer.TypeSecret)
	out = append(out, analyzer.TypeConfigFiles...)
	return append(out, analyzer.TypeLicenseFile, analyzer.TypeHistoryDockerfile, analyzer.TypeExecutable, analyzer.TypeRpmArchive)
}

func scanOptions() types.ScanOptions {
	return types.ScanOptions{
		PkgTypes:            []string{types.PkgTypeOS, types.PkgTypeLibrary},
		PkgRelationships:    ftypes.Relationships,
		Scanners:            types.Scanners{types.VulnerabilityScanner},
		VulnSeveritySources: []trivydbtypes.SourceID{"auto"},
	}
}

// findings converts Trivy's results, deduplicating as `trivy image` does
// (same ID, package ID, name, installed version and path).
func findings(results types.Results) []gate.Finding {
	var out []gate.Finding
	seen := map[string]int{}
	for _, res := range results {
		for _, v := range res.Vulnerabilities {
			f := gate.Finding{
				ID:        v.VulnerabilityID,
				Package:   v.PkgName,
				Path:      v.PkgPath,
				Target:    res.Target,
				Class:     string(res.Class),
				Type:      string(res.Type),
				Installed: v.InstalledVersion,
				Fixed:     v.FixedVersion,
				//lint:ignore SA1019 Severity is the one Trivy selected across vendors, what `trivy image` reports and filters on.
				Severity: gate.Severity(v.Severity),
				Title:    v.Title,
				URL:      v.PrimaryURL,
			}
			if f.Path == "" && res.Class == types.ClassLangPkg {
				f.Path = res.Target // e.g. a Go binary: the file is the target
			}
			if v.Status != trivydbtypes.StatusUnknown {
				f.Status = v.Status.String()
			}
			if f.Severity == "" {
				f.Severity = gate.SeverityUnknown
			}
			if v.PkgIdentifier.PURL != nil {
				f.PURL = v.PkgIdentifier.PURL.String()
			}
			key := strings.Join([]string{res.Target, v.VulnerabilityID, v.PkgID, v.PkgName, v.InstalledVersion, v.PkgPath}, "\x00")
			if i, ok := seen[key]; ok {
				out[i] = f
				continue
			}
			seen[key] = len(out)
			out = append(out, f)
		}
	}
	gate.SortFindings(out)
	return out
}

// trivyImage adapts a go-containerregistry image to Trivy's image interface.
type trivyImage struct {
	v1.Image
	name string
}

func (i trivyImage) Name() string { return i.name }

func (i trivyImage) ID() (string, error) {
	h, err := i.ConfigName()
	if err != nil {
		return "", fmt.Errorf("reading the config digest of %q: %w", i.name, err)
	}
	return h.String(), nil
}

// RepoTags and RepoDigests are empty, as for `trivy image --input`: the
// report names the image by ref and digest itself.
func (i trivyImage) RepoTags() []string { return nil }

func (i trivyImage) RepoDigests() []string { return nil }

func defaultJavaDBRepos() []name.Reference {
	var out []name.Reference
	for _, r := range []string{javadb.DefaultGCRRepository, javadb.DefaultGHCRRepository} {
		if ref, err := name.ParseReference(r); err == nil {
			out = append(out, ref)
		}
	}
	return out
}

// Version is the linked Trivy module version, from the build info, e.g.
// "trivy v0.74.0".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/aquasecurity/trivy" {
				return "trivy " + m.Version
			}
		}
	}
	return "trivy (unknown version)"
}
