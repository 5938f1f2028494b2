package factory

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/evidence"
	ghclient "github.com/deployment-automator/automator/internal/github"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
	"github.com/google/go-containerregistry/pkg/name"
)

// Gate wires the vulnerability gate: the scanner process (Trivy, started on
// the first scan) behind its per-digest cache when scanning is enabled, refreshing its DB when due (the watcher outlives
// DBs), scan.policy and the ignore file. The scanner is closed by Close.
func (f *Factory) Gate(ctx context.Context) (*pipeline.Gate, error) {
	if f.scanGate != nil {
		return f.scanGate, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	g, err := pipeline.NewGate(cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.ScanEnabled() {
		f.Logger.Warn("vulnerability scanning is disabled (scan.enabled: false): images are promoted unscanned")
	} else {
		// Started on the first scan, not here: many commands wire a gate and
		// scan nothing (startScanner registers the stop with Close).
		l := scan.NewLazy(func(ctx context.Context) (*scan.Process, error) { return f.startScanner(ctx, cfg.Scan) })
		g.Scanner, f.scanner = scan.NewRefreshing(scan.NewCaching(l), l), l
		rc, err := f.Registry()
		if err != nil {
			return nil, err
		}
		g.Open = rc.Image
	}
	f.scanGate = g
	return g, nil
}

// Writer builds the write-back for every environment: a Router that sends
// owner/name repos to the GitHub writer and git URLs or paths to the local
// git writer, each built only when an environment needs it. Commit messages
// and pull request text pass through the redactor.
func (f *Factory) Writer(dryRun bool) (gitops.Writer, error) {
	r, err := f.Router(dryRun)
	if err != nil {
		return nil, err
	}
	return gitops.Redacting(r, f.Redactor.Redact), nil
}

// Router is the write-back without the redactor: what status reads
// history through (it writes nothing).
func (f *Factory) Router(dryRun bool) (gitops.Router, error) {
	// One per mode for the process: status, ChatOps and the watcher's status
	// board ask again and again, and each new router would build its writers
	// (and announce a token fallback) anew.
	// (The watcher's status page asks from its HTTP handlers.)
	f.routersMu.Lock()
	defer f.routersMu.Unlock()
	if r, ok := f.routers[dryRun]; ok {
		return r, nil
	}
	r, err := f.newRouter(dryRun)
	if err != nil {
		return gitops.Router{}, err
	}
	if f.routers == nil {
		f.routers = map[bool]gitops.Router{}
	}
	f.routers[dryRun] = r
	return r, nil
}

func (f *Factory) newRouter(dryRun bool) (gitops.Router, error) {
	cfg, err := f.Config()
	if err != nil {
		return gitops.Router{}, err
	}
	rc := gitops.RouterConfig{DryRun: dryRun, GitHub: f.writeClients, Author: gitops.Author{Name: f.Getenv("GIT_AUTHOR_NAME"), Email: f.Getenv("GIT_AUTHOR_EMAIL")},
		Options: []gitops.Option{gitops.WithServerURL(ghclient.ServerURL(cfg.GitHub, f.Getenv)), gitops.WithLogger(f.Logger.Named("gitops")), gitops.WithVerifier(lazyVerifier{f})}}
	if rc.Author.Name == "" || rc.Author.Email == "" {
		rc.Author = gitops.Author{}
	}
	return gitops.NewRouter(cfg.Environments, rc)
}

// writeClients are the GitHub clients of the write-back, announcing in
// Actions when they write with a token instead of a GitHub App.
func (f *Factory) writeClients() (gitops.Clients, error) {
	gh, err := f.GitHub()
	if err != nil {
		return nil, err
	}
	if err := f.announceTokenFallback(f.cfg.GitHub); err != nil {
		return nil, err
	}
	return gh, nil
}

// Promoter wires promotion: the writer (wrapped by wrap, e.g. the watcher's
// read cache), the gate, holds, and the registry copier for environments
// whose registry differs (one that copies nothing when dry-running).
func (f *Factory) Promoter(ctx context.Context, dryRun bool, wrap ...func(gitops.Writer) gitops.Writer) (*promote.Promoter, error) {
	p, err := f.WritePromoter(dryRun)
	if err != nil {
		return nil, err
	}
	for _, fn := range wrap {
		p.Writer = fn(p.Writer)
	}
	if p.Gate, err = f.promoteGate(ctx); err != nil {
		return nil, err
	}
	p.Copier, p.Registries, p.Override = promote.DryRunCopier{}, promote.RegistriesFromConfig(f.cfg), f.FreezeOverride
	// Holds and soak read through the wrapped writer (the watcher's cache).
	hc := &holds.Checker{Reader: p.Writer, Logger: f.Logger.Named("holds")}
	p.Holds, p.Since = hc, hc
	if !dryRun {
		c, err := f.Registry()
		if err != nil {
			return nil, err
		}
		p.Copier = promote.EvidenceCopier{Next: promote.RegistryCopier{Registry: c}, Carry: Carrier(c).Carry}
	}
	return p, nil
}

// WritePromoter is a promoter that only writes: no gate, no copier, for
// what brings no new image (holds, releases, rollbacks); it reads holds.
func (f *Factory) WritePromoter(dryRun bool) (*promote.Promoter, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	w, err := f.Writer(dryRun)
	if err != nil {
		return nil, err
	}
	hc := &holds.Checker{Reader: w, Logger: f.Logger.Named("holds")}
	return &promote.Promoter{Writer: w, Images: promote.ImagesFromConfig(cfg), Logger: f.Logger.Named("promote"), Holds: hc}, nil
}

// Builds wires the build stage shared by build and run.
func (f *Factory) Builds(ctx context.Context) (*pipeline.Builds, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	g, err := f.Gate(ctx)
	if err != nil {
		return nil, err
	}
	return &pipeline.Builds{
		Config: cfg, Gate: g, OpenLayout: scan.OpenLayout, Logger: f.Logger, Group: f.groupedLogs(),
		NewBuilder: func(ctx context.Context, backend string) (build.Builder, error) {
			rc, err := f.Registry() // base images come from the same registries, with the same credentials
			if err != nil {
				return nil, err
			}
			return build.New(ctx, backend, build.WithLogger(f.Logger), build.WithRegistries(rc.BuildRegistries()...))
		},
		Pusher:   func() (pipeline.Pusher, error) { return f.Registry() },
		Registry: func() (pipeline.Retagger, error) { return f.Registry() },
		Evidence: f.evidenceWriter(cfg),
	}, nil
}

// promoteGate is the gate promotions pass: the scan gate, behind evidence
// verification when an environment has a verify policy.
func (f *Factory) promoteGate(ctx context.Context) (promote.Gate, error) {
	g, err := f.Gate(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := f.Targets()
	if err != nil || !ts.Verifies() {
		return g, err
	}
	rc, err := f.Registry()
	if err != nil {
		return nil, err
	}
	return promote.VerifyingGate{Next: g, Verifier: evidence.NewVerifier(rc, nil)}, nil
}

// Carrier copies evidence with the registry client's Copy, replacing the
// destination's artifact tags.
func Carrier(c *registry.Client) evidence.Carrier {
	return evidence.Carrier{Registry: c, Copy: func(ctx context.Context, src, dst string) error {
		_, err := c.Copy(ctx, src, dst, true)
		return err
	}}
}

// CopyWithEvidence is `automator copy`: src to dst through c, and the
// image's signatures, attestations and referrers after it (see
// evidence.Carrier). The evidence is looked up while the image is copied,
// and copied once the image is there.
func CopyWithEvidence(ctx context.Context, c *registry.Client, src, dst string, force bool, mountFrom []string) (*registry.Copied, error) {
	carrier := Carrier(c)
	var (
		found   *evidence.Found
		findErr error
		done    chan struct{}
	)
	res, err := c.Copy(ctx, src, dst, force, registry.MountFrom(mountFrom...), registry.OnSource(func(d name.Digest) {
		done = make(chan struct{})
		go func() {
			defer close(done)
			found, findErr = carrier.Find(ctx, d.String(), dst)
		}()
	}))
	if done != nil {
		<-done
	}
	if err != nil {
		return nil, err
	}
	if findErr == nil {
		_, findErr = carrier.CopyFound(ctx, found)
	}
	if findErr != nil {
		return nil, fmt.Errorf("copying the signatures and attestations of %s: %w", src, findErr)
	}
	return res, nil
}

// evidenceWriter signs and attests pushed images (scan, and the SBOM from
// the gate's Trivy) when the config has sign (nil otherwise); the key is
// read when a build first pushes.
func (f *Factory) evidenceWriter(cfg *config.Config) func() (pipeline.EvidenceWriter, error) {
	if cfg.Sign == nil {
		return nil
	}
	return func() (pipeline.EvidenceWriter, error) {
		key, err := evidence.KeyFromConfig(cfg.Sign, cfg.ReadFile, f.Getenv)
		if err != nil {
			return nil, usage(err)
		}
		rc, err := f.Registry()
		if err != nil {
			return nil, err
		}
		w := evidence.Writer{Signer: evidence.NewSigner(key, rc), Attest: cfg.Sign.Attests(), RunURI: evidence.ActionsRunURI(f.Getenv)}
		if t := f.scanner; t != nil {
			w.SBOM = func(ctx context.Context, image string) ([]byte, error) {
				img, err := rc.Image(ctx, image)
				if err != nil {
					return nil, err
				}
				return t.SBOM(ctx, image, img)
			}
		}
		return w, nil
	}
}

// groupedLogs groups each service's build log in GitHub Actions; outside
// Actions lines stream as they come.
func (f *Factory) groupedLogs() func(string, func(*zap.Logger) error) error {
	if f.Getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	return pipeline.GroupedLogs(f.Logger, f.Redactor.Writer(f.Stdout))
}

// lazyVerifier re-verifies updates a pull request branch carries from an
// earlier run (promote.Reverify: registry and gate), building the gate and
// the registry client only when a run carries something.
type lazyVerifier struct{ f *Factory }

func (l lazyVerifier) Verify(ctx context.Context, env config.Environment, u gitops.Update) error {
	ts, err := l.f.Targets()
	if err != nil {
		return err
	}
	g, err := l.f.promoteGate(ctx)
	if err != nil {
		return err
	}
	r, err := l.f.Registry()
	if err != nil {
		return err
	}
	return promote.Reverify{Targets: ts, Gate: g, Registry: r}.Verify(ctx, env, u)
}
