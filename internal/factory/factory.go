// Package factory is the process's lazy dependency graph, in the manner of
// cli/cli's cmdutil.Factory: the config, the resolved targets, the
// vulnerability gate, the registry client, the GitHub client factory, the
// write-back (writer and router), the promoter, the build stage, the
// GitHub Actions output sink, the redactor and the logger. Each dependency
// is built once per process on first use, and nothing is built that a
// command does not use (a git-only configuration needs no GitHub auth, a
// dry run no registry).
//
// Commands in cmd/automator parse their flags and ask the factory for what
// they need. The factory decides no exit codes: bad usage or configuration
// comes back as a *pipeline.UsageError, which cmd maps to its exit code.
package factory

import (
	"errors"
	"io"
	"sync"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/event"
	ghclient "github.com/deployment-automator/automator/internal/github"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/logging"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
)

var _ detect.Comparer = (*ghclient.Factory)(nil)

// Factory holds what every command shares and builds the rest lazily. Its
// exported fields are set by cmd before a command runs (Logger once flags
// are parsed); the zero value of the rest means "not built yet".
type Factory struct {
	// Getenv reads the process environment (in Actions, with the action's
	// inputs standing in for their variables).
	Getenv func(string) string
	// ConfigPath is --config; empty means the default locations.
	ConfigPath string
	// Logger is the process's logger, built by cmd from the log flags.
	Logger *zap.Logger
	// Redactor scrubs every secret the process knows from logs, outputs,
	// commit messages and pull request text.
	Redactor *logging.Redactor
	// Stdout is where GitHub Actions' log groups and annotations go.
	Stdout io.Writer
	// UserAgent names automator and its version in registry and GitHub
	// requests.
	UserAgent string
	// Version is automator's build version; the scanner process must be of
	// the same release.
	Version string
	// FreezeOverride is --override-freeze: the emergency override's reason.
	FreezeOverride string

	cfg       *config.Config
	resolved  promote.Targets
	scanGate  *pipeline.Gate
	scanner   *scan.Lazy             // the gate's scanner process, nil when scanning is disabled
	routers   map[bool]gitops.Router // by dry-run mode: built once (see Router)
	routersMu sync.Mutex
	reg       *registry.Client
	gh        *ghclient.Factory
	closers   []func() // run by Close, e.g. closing the scanner
}

// Close releases what the factory opened (the scanner); call it once, when
// the command is done.
func (f *Factory) Close() {
	for _, c := range f.closers {
		c()
	}
}

// usage marks err as bad usage or configuration for cmd's exit code.
func usage(err error) error { return &pipeline.UsageError{Err: err} }

// Config loads the config once, registering every secret it references with
// the redactor before anything can print them. A missing config file is a
// usage error wrapping config.ErrNotFound.
func (f *Factory) Config() (*config.Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	cfg, err := config.Open(f.ConfigPath)
	if errors.Is(err, config.ErrNotFound) {
		return nil, usage(err)
	}
	if err != nil {
		return nil, err
	}
	f.Redactor.AddKnown(cfg.SecretValues(f.Getenv)...)
	f.cfg = cfg
	return cfg, nil
}

// Targets resolves every environment of the config once.
func (f *Factory) Targets() (promote.Targets, error) {
	if f.resolved != nil {
		return f.resolved, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	ts, err := promote.Resolve(cfg)
	if err != nil {
		return nil, usage(err)
	}
	f.resolved = ts
	return ts, nil
}

// Target is the named environment, resolved (a usage error when unknown).
func (f *Factory) Target(name string) (*promote.Target, error) {
	all, err := f.Targets()
	if err != nil {
		return nil, err
	}
	ts, err := all.Lookup(name)
	if err != nil {
		return nil, usage(err)
	}
	return ts[0], nil
}

// EventTargets are the targets of the GitHub event (or the named ones).
func (f *Factory) EventTargets(names []string) (*event.Event, []*promote.Target, error) {
	ev, err := event.FromEnv(f.Getenv)
	if err != nil {
		return nil, nil, err
	}
	all, err := f.Targets()
	if err != nil {
		return nil, nil, err
	}
	ts, err := pipeline.Targets(all, ev, names)
	return ev, ts, err
}

// Registry is the registry client of the config's registries, built once:
// the gate's scans, pushes, copies and the watcher share it.
func (f *Factory) Registry() (*registry.Client, error) {
	if f.reg != nil {
		return f.reg, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if f.reg, err = f.RegistryClient(cfg); err != nil {
		return nil, err
	}
	return f.reg, nil
}

// RegistryClient builds a registry client from cfg (nil when there is none)
// and the environment, for commands that work without a config; every
// registry path (push, copy, watch, scan, verify) goes through one.
func (f *Factory) RegistryClient(cfg *config.Config, extra ...registry.Option) (*registry.Client, error) {
	return registry.New(append([]registry.Option{
		registry.WithLogger(f.Logger),
		registry.WithConfig(cfg, f.Getenv),
		registry.WithUserAgent(f.UserAgent),
	}, extra...)...)
}

// GitHub is the GitHub client factory from cfg.GitHub: retries, rate
// limits, App auth; every installation token it mints is registered with
// the redactor (and masked in Actions).
func (f *Factory) GitHub() (*ghclient.Factory, error) {
	if f.gh != nil {
		return f.gh, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	opts, err := ghclient.ConfigOptions(cfg.GitHub, f.Getenv)
	if err != nil {
		return nil, usage(err)
	}
	opts = append(opts, ghclient.WithNetwork(cfg.Network), ghclient.WithLogger(f.Logger.Named("github")), ghclient.WithUserAgent(f.UserAgent),
		ghclient.WithTokenObserver(func(tok string) { f.Redactor.Add(tok) }))
	if f.gh, err = ghclient.New(opts...); err != nil {
		return nil, usage(err)
	}
	return f.gh, nil
}

// Step is the running step's file commands ($GITHUB_OUTPUT and
// $GITHUB_STEP_SUMMARY; none outside Actions), every value scrubbed by the
// redactor, so outputs and the summary are held to the same rule as logs.
func (f *Factory) Step() actions.Step {
	return actions.Step{
		OutputPath:  f.Getenv("GITHUB_OUTPUT"),
		SummaryPath: f.Getenv("GITHUB_STEP_SUMMARY"),
		Scrub:       f.Redactor.Redact,
	}
}

// Publish is the one GitHub Actions output sink: step outputs to
// $GITHUB_OUTPUT and markdown to $GITHUB_STEP_SUMMARY, each only when the
// runner set it, every value scrubbed by the redactor (Step).
func (f *Factory) Publish(outs []actions.Output, summary string) error {
	return f.Step().Publish(outs, summary)
}

// ReportRun prints the environments' diffs and pull requests, and in
// Actions writes the step outputs and job summary of a run.
func (f *Factory) ReportRun(out io.Writer, done *pipeline.Delivered, dryRun bool, extra ...actions.Output) error {
	outs, summary, err := done.Report(out, dryRun)
	if err != nil {
		return err
	}
	return f.Publish(append(extra, outs...), summary)
}

// announceTokenFallback warns, in the log and the job summary, when a run in
// GitHub Actions writes back with a token instead of a GitHub App.
func (f *Factory) announceTokenFallback(cfg config.GitHub) error {
	note := ghclient.TokenFallback(cfg, f.Getenv)
	if note == "" {
		return nil
	}
	f.Logger.Warn(note)
	return f.Step().AppendSummary("> **Warning:** " + note + ".\n")
}
