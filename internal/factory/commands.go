package factory

import (
	"context"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/git"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/status"
	"github.com/deployment-automator/automator/internal/transport"
	"github.com/deployment-automator/automator/internal/watch"
)

// Plan selects the services to build from the event or the selection. In a
// clone without history it asks the GitHub compare API through the
// project's GitHub client, when credentials are configured.
func (f *Factory) Plan(ctx context.Context, ev *event.Event, sel detect.Selection) (*detect.Result, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	repo, err := git.Open(filepath.Dir(cfg.Source()))
	if err != nil {
		return nil, err
	}
	opts := []detect.Option{detect.WithRepo(repo), detect.WithEvent(ev), detect.WithLogger(f.Logger), detect.WithSelection(sel)}
	ownerRepo := ev.OwnerRepo(f.Getenv)
	if gh, err := f.GitHub(); err == nil && ownerRepo != "" {
		opts = append(opts, detect.WithComparer(gh, ownerRepo))
	}
	return detect.Plan(ctx, cfg, opts...)
}

// Status reads the matrix of the named environments (all when none) through
// the router, writing nothing.
func (f *Factory) Status(ctx context.Context, envs []string, history int) (*status.Matrix, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	ts, err := f.Targets()
	if err != nil {
		return nil, err
	}
	targets := []*promote.Target(ts)
	if len(envs) > 0 {
		if targets, err = ts.Lookup(envs...); err != nil {
			return nil, usage(err)
		}
	}
	r, err := f.Router(false)
	if err != nil {
		return nil, err
	}
	images := promote.ImagesFromConfig(cfg)
	return status.Read(ctx, r, targets, images, status.WithHistory(history),
		status.WithAnnotators(status.NewHolds(&holds.Checker{Reader: r}, targets, images)))
}

// Watcher wires the watcher: the registry, and promotions through the same
// gate and write-back as run (each new image is scanned by digest, once
// whatever the number of environments, and blocked where the environment's
// policy says so), reading each environment once per cycle. opts add to
// the logger and metrics given.
func (f *Factory) Watcher(ctx context.Context, cfg *config.Config, dryRun bool, m *watch.Metrics, log *zap.Logger, opts ...watch.Option) (*watch.Watcher, error) {
	rr, err := f.RegistryClient(cfg, registry.WithLogger(log.Named("registry")),
		registry.WithRequestObserver(m.ObserveRegistryRequest), registry.WithDefaultRPS(transport.DefaultRPS))
	if err != nil {
		return nil, err
	}
	// The process's one client: the gate's scans and the promoter's copies
	// share its per-host limits, auth and metrics with tag listing.
	f.reg = rr
	perCycle := func(w gitops.Writer) gitops.Writer { return promote.NewCachedReads(w, watch.CycleOf) }
	p, err := f.Promoter(ctx, dryRun, perCycle)
	if err != nil {
		return nil, err
	}
	targets, err := f.Targets()
	if err != nil {
		return nil, err
	}
	cur, lander, err := watch.WriteBack(p, targets, cfg.Watch.Rules)
	if err != nil {
		return nil, usage(err)
	}
	w, err := watch.New(cfg.Watch, rr, cur, lander, append([]watch.Option{watch.WithLogger(log), watch.WithMetrics(m)}, opts...)...)
	if err != nil {
		return nil, usage(err)
	}
	return w, nil
}

// Scanner starts the scanner process with the scan settings of cfg (none
// when nil) and the command line's overrides; Close stops it.
func (f *Factory) Scanner(ctx context.Context, cfg *config.Config, o scan.Overrides) (*scan.Process, error) {
	var sc config.Scan
	if cfg != nil {
		sc = cfg.Scan
	}
	return f.startScanner(ctx, o.Apply(sc))
}

// startScanner starts automator-scan (found by scan.Locate) with settings,
// to be stopped by Close.
func (f *Factory) startScanner(ctx context.Context, settings config.Scan) (*scan.Process, error) {
	path, err := scan.Locate(f.Getenv)
	if err != nil {
		return nil, err
	}
	p, err := scan.Start(ctx, scan.WithExecutable(path), scan.WithSettings(settings), scan.WithVersion(f.Version),
		scan.WithProcessLogger(f.Logger.Named("scan")))
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, func() {
		if err := p.Close(); err != nil {
			f.Logger.Warn("stopping the scanner", zap.Error(err))
		}
	})
	return p, nil
}

// ScanPolicies picks the policies a scan applies: the named environments',
// else adHoc (from flags; nil when none) or scan.policy (the config
// default when cfg is nil).
func (f *Factory) ScanPolicies(cfg *config.Config, envs []string, adHoc *config.Policy) ([]gate.EnvPolicy, error) {
	if len(envs) > 0 {
		all, err := f.Targets()
		if err != nil {
			return nil, err
		}
		ps, err := all.Policies(envs...)
		if err != nil {
			return nil, usage(err)
		}
		return ps, nil
	}
	p, err := gate.DefaultScanPolicy(cfg, adHoc)
	if err != nil {
		return nil, usage(err)
	}
	return []gate.EnvPolicy{p}, nil
}

// OpenRemote opens ref for scanning through the one registry client of cfg
// (config credentials, Docker config, GITHUB_TOKEN for ghcr.io, insecure
// hosts); a reference that does not parse is a usage error.
func (f *Factory) OpenRemote(ctx context.Context, cfg *config.Config, ref string) (v1.Image, error) {
	rc, err := f.RegistryClient(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := rc.ParseReference(ref); err != nil {
		return nil, usage(err)
	}
	return rc.Image(ctx, ref)
}
