package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/evidence"
	ghclient "github.com/deployment-automator/automator/internal/github"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
)

// The factory: app's lazy dependencies, each built once per process on
// first use, in the manner of cli/cli's cmdutil.Factory. Commands ask for
// what they need; nothing is built that a command does not use (a git-only
// configuration needs no GitHub auth, a dry run no registry).

var _ detect.Comparer = (*ghclient.Factory)(nil)

// targets resolves every environment of the config once.
func (a *app) targets() (promote.Targets, error) {
	if a.resolved != nil {
		return a.resolved, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	ts, err := promote.Resolve(cfg)
	if err != nil {
		return nil, &usageError{err: err}
	}
	a.resolved = ts
	return ts, nil
}

// gate wires the vulnerability gate: Trivy behind its per-digest cache when
// scanning is enabled, refreshing its DB when due (the watcher outlives
// DBs), scan.policy and the ignore file. The scanner is closed at exit.
func (a *app) gate(ctx context.Context) (*pipeline.Gate, error) {
	if a.scanGate != nil {
		return a.scanGate, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	g, err := pipeline.NewGate(cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.ScanEnabled() {
		a.logger.Warn("vulnerability scanning is disabled (scan.enabled: false): images are promoted unscanned")
	} else {
		trivy, err := scan.New(ctx, scan.WithConfig(cfg.Scan), scan.WithLogger(a.logger.Named("scan")))
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, func() {
			if err := trivy.Close(); err != nil {
				a.logger.Warn("closing the scanner", zap.Error(err))
			}
		})
		g.Scanner, a.trivy = scan.NewRefreshing(scan.NewCaching(trivy), trivy), trivy
		rc, err := a.registry()
		if err != nil {
			return nil, err
		}
		g.Open = rc.Image
	}
	a.scanGate = g
	return g, nil
}

// registry is the registry client of the config's registries.
func (a *app) registry() (*registry.Client, error) {
	if a.reg != nil {
		return a.reg, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	if a.reg, err = a.registryClient(cfg); err != nil {
		return nil, err
	}
	return a.reg, nil
}

// github is the GitHub client factory from cfg.GitHub: retries, rate
// limits, App auth; every installation token it mints is registered with
// the redactor (and masked in Actions).
func (a *app) github() (*ghclient.Factory, error) {
	if a.gh != nil {
		return a.gh, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	opts, err := ghclient.ConfigOptions(cfg.GitHub, a.getenv)
	if err != nil {
		return nil, &usageError{err: err}
	}
	opts = append(opts, ghclient.WithNetwork(cfg.Network), ghclient.WithLogger(a.logger.Named("github")), ghclient.WithUserAgent("automator/"+version),
		ghclient.WithTokenObserver(func(tok string) { a.redactor.Add(tok) }))
	if a.gh, err = ghclient.New(opts...); err != nil {
		return nil, &usageError{err: err}
	}
	return a.gh, nil
}

// writer builds the write-back for every environment: a Router that sends
// owner/name repos to the GitHub writer and git URLs or paths to the local
// git writer, each built only when an environment needs it.
func (a *app) writer(dryRun bool) (gitops.Writer, error) {
	r, err := a.router(dryRun)
	if err != nil {
		return nil, err
	}
	// Commit messages and pull request text pass through the redactor too.
	return gitops.Redacting(r, a.redactor.Redact), nil
}

// router is the write-back without the redactor: what status reads
// history through (it writes nothing).
func (a *app) router(dryRun bool) (gitops.Router, error) {
	cfg, err := a.config()
	if err != nil {
		return gitops.Router{}, err
	}
	rc := gitops.RouterConfig{DryRun: dryRun, GitHub: a.writeClients, Author: gitops.Author{Name: a.getenv("GIT_AUTHOR_NAME"), Email: a.getenv("GIT_AUTHOR_EMAIL")},
		Options: []gitops.Option{gitops.WithServerURL(ghclient.ServerURL(cfg.GitHub, a.getenv)), gitops.WithLogger(a.logger.Named("gitops")), gitops.WithVerifier(lazyVerifier{a})}}
	if rc.Author.Name == "" || rc.Author.Email == "" {
		rc.Author = gitops.Author{}
	}
	return gitops.NewRouter(cfg.Environments, rc)
}

// writeClients are the GitHub clients of the write-back, announcing in
// Actions when they write with a token instead of a GitHub App.
func (a *app) writeClients() (gitops.Clients, error) {
	f, err := a.github()
	if err != nil {
		return nil, err
	}
	if err := a.announceTokenFallback(a.cfg.GitHub); err != nil {
		return nil, err
	}
	return f, nil
}

// promoter wires promotion: the writer (wrapped by wrap, e.g. the watcher's
// read cache), the gate, and the registry copier for environments whose
// registry differs (one that copies nothing when dry-running).
func (a *app) promoter(ctx context.Context, dryRun bool, wrap ...func(gitops.Writer) gitops.Writer) (*promote.Promoter, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	w, err := a.writer(dryRun)
	if err != nil {
		return nil, err
	}
	for _, f := range wrap {
		w = f(w)
	}
	g, err := a.promoteGate(ctx)
	if err != nil {
		return nil, err
	}
	p := &promote.Promoter{Writer: w, Gate: g, Images: promote.ImagesFromConfig(cfg), Logger: a.logger.Named("promote"), Copier: promote.DryRunCopier{},
		Registries: promote.RegistriesFromConfig(cfg), Override: a.freezeOverride}
	hc := &holds.Checker{Reader: w, Logger: a.logger.Named("holds")}
	p.Holds, p.Since = hc, hc
	if !dryRun {
		c, err := a.registry()
		if err != nil {
			return nil, err
		}
		p.Copier = promote.EvidenceCopier{Next: promote.RegistryCopier{Registry: c}, Carry: carrier(c).Carry}
	}
	return p, nil
}

// builds wires the build stage shared by build and run.
func (a *app) builds(ctx context.Context) (*pipeline.Builds, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	g, err := a.gate(ctx)
	if err != nil {
		return nil, err
	}
	return &pipeline.Builds{
		Config: cfg, Gate: g, OpenLayout: scan.OpenLayout, Logger: a.logger, Group: a.groupedLogs(),
		NewBuilder: func(ctx context.Context, backend string) (build.Builder, error) {
			rc, err := a.registry() // base images come from the same registries, with the same credentials
			if err != nil {
				return nil, err
			}
			return build.New(ctx, backend, build.WithLogger(a.logger), build.WithRegistries(rc.BuildRegistries()...))
		},
		Pusher:   func() (pipeline.Pusher, error) { return a.registry() },
		Registry: func() (pipeline.Retagger, error) { return a.registry() },
		Evidence: a.evidenceWriter(cfg),
	}, nil
}

// promoteGate is the gate promotions pass: the scan gate, behind evidence
// verification when an environment has a verify policy.
func (a *app) promoteGate(ctx context.Context) (promote.Gate, error) {
	g, err := a.gate(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := a.targets()
	if err != nil || !ts.Verifies() {
		return g, err
	}
	rc, err := a.registry()
	if err != nil {
		return nil, err
	}
	return promote.VerifyingGate{Next: g, Verifier: evidence.NewVerifier(rc, nil)}, nil
}

// carrier copies evidence with the registry client's Copy, replacing the
// destination's artifact tags.
func carrier(c *registry.Client) evidence.Carrier {
	return evidence.Carrier{Registry: c, Copy: func(ctx context.Context, src, dst string) error {
		_, err := c.Copy(ctx, src, dst, true)
		return err
	}}
}

// evidenceWriter signs and attests pushed images (scan, and the SBOM from
// the gate's Trivy) when the config has sign (nil otherwise); the key is
// read when a build first pushes.
func (a *app) evidenceWriter(cfg *config.Config) func() (pipeline.EvidenceWriter, error) {
	if cfg.Sign == nil {
		return nil
	}
	return func() (pipeline.EvidenceWriter, error) {
		key, err := evidence.KeyFromConfig(cfg.Sign, cfg.ReadFile, a.getenv)
		if err != nil {
			return nil, &usageError{err: err}
		}
		rc, err := a.registry()
		if err != nil {
			return nil, err
		}
		w := evidence.Writer{Signer: evidence.NewSigner(key, rc), Attest: cfg.Sign.Attests(), RunURI: evidence.ActionsRunURI(a.getenv)}
		if t := a.trivy; t != nil {
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

// publish is the one GitHub Actions output sink: step outputs to
// $GITHUB_OUTPUT and markdown to $GITHUB_STEP_SUMMARY, each only when the
// runner set it, every value scrubbed by the redactor (a.step).
func (a *app) publish(outs []actions.Output, summary string) error {
	return a.step().Publish(outs, summary)
}

// groupedLogs groups each service's build log in GitHub Actions; outside
// Actions lines stream as they come.
func (a *app) groupedLogs() func(string, func(*zap.Logger) error) error {
	if a.getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	return pipeline.GroupedLogs(a.logger, a.redactor.Writer(a.stdout))
}

// lazyVerifier re-verifies updates a pull request branch carries from an
// earlier run (promote.Reverify: registry and gate), building the gate and
// the registry client only when a run carries something.
type lazyVerifier struct{ a *app }

func (l lazyVerifier) Verify(ctx context.Context, env config.Environment, u gitops.Update) error {
	ts, err := l.a.targets()
	if err != nil {
		return err
	}
	g, err := l.a.promoteGate(ctx)
	if err != nil {
		return err
	}
	r, err := l.a.registry()
	if err != nil {
		return err
	}
	return promote.Reverify{Targets: ts, Gate: g, Registry: r}.Verify(ctx, env, u)
}
