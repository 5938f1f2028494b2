package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/git"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// UsageError is a build request that cannot be carried out as asked (an
// unknown service, a commit that is not a SHA, an invalid tag template):
// the CLI exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// SelectServices returns the named services in config order (explicit
// entries, then those created by discover), or all of them when names is
// empty. An unknown name is a *UsageError.
func SelectServices(cfg *config.Config, names []string) ([]config.Service, error) {
	resolved, err := detect.Services(cfg, cfg.Repo())
	if err != nil {
		return nil, err
	}
	all := make([]config.Service, 0, len(resolved))
	for _, r := range resolved {
		if s, ok := cfg.Service(r.Name); ok {
			all = append(all, *s)
			continue
		}
		all = append(all, config.Service{Name: r.Name, Context: r.Context, Dockerfile: r.Dockerfile, Image: r.Image, Args: r.Args, Target: r.Target})
	}
	if len(names) == 0 {
		if len(all) == 0 {
			return nil, usageErrorf("config %s defines no services", cfg.Source())
		}
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []config.Service
	for _, s := range all {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	for _, n := range names {
		if want[n] {
			return nil, usageErrorf("unknown service %q (not in %s)", n, cfg.Source())
		}
	}
	return out, nil
}

// BuildTargets are the targets fed by a build: those without an upstream
// (which take what their upstream runs instead).
func BuildTargets(targets []*promote.Target) []*promote.Target {
	var out []*promote.Target
	for _, t := range targets {
		if t.From == nil {
			out = append(out, t)
		}
	}
	return out
}

// BuildRequest is what `build` and `run` ask of Builds.
type BuildRequest struct {
	// Services to build; empty builds every service.
	Services []string
	// Targets are the environments whose gates decide what is pushed.
	Targets []*promote.Target
	// Push pushes the images allowed into at least one target.
	Push bool
	// SHA and Ref are the commit and ref built; "" asks git (HEAD and the
	// current branch).
	SHA, Ref string
	// Base is the start of the commit range (run), for PR links.
	Base string
	// Source is the org.opencontainers.image.source URL; Repo the app
	// repository owner/name for PR links ("" for none).
	Source, Repo string
	// OutputDir keeps the OCI layouts; "" uses a temporary directory.
	OutputDir string
	// Builder overrides build.builder; Parallelism build.parallelism.
	Builder     string
	Parallelism int
}

// Builds wires the build stage for `build` and `run`: it selects the
// services, finds the commit and its time (reproducible builds), plans each
// service and runs BuildStage with a fresh builder backend.
type Builds struct {
	Config     *config.Config
	Gate       *Gate
	OpenLayout LayoutOpener
	// NewBuilder starts a builder backend (build.New).
	NewBuilder func(ctx context.Context, backend string) (build.Builder, error)
	// Pusher is asked for only when a request pushes.
	Pusher func() (Pusher, error)
	// Registry, asked for when a request pushes, finds a commit's image
	// already published so that it is tagged again instead of rebuilt
	// (BuildStage.Registry); nil rebuilds every time.
	Registry func() (Retagger, error)
	// Evidence, when set, is asked for when a request pushes: it signs and
	// attests every pushed image (config sign).
	Evidence func() (EvidenceWriter, error)
	Logger   *zap.Logger // required
	// Group wraps each service's work (see BuildStage.Group).
	Group func(service string, work func(log *zap.Logger) error) error
}

// Run builds, scans and (with req.Push) pushes the requested services; see
// BuildStage.Run for the images and errors it returns.
func (b *Builds) Run(ctx context.Context, req BuildRequest) ([]*Image, error) {
	plans, cleanup, err := b.plans(ctx, &req)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	backend := b.Config.Build.Builder
	if req.Builder != "" {
		backend = req.Builder
	}
	builder, err := b.NewBuilder(ctx, backend)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := builder.Close(); err != nil {
			b.Logger.Warn("cleaning up builder", zap.Error(err))
		}
	}()
	stage := &BuildStage{
		Builder: builder, OpenLayout: b.OpenLayout, Gate: b.Gate, Logger: b.Logger,
		Parallelism: b.Config.Build.Parallelism, KeepLayouts: req.OutputDir != "", Group: b.Group,
	}
	if req.Parallelism > 0 {
		stage.Parallelism = req.Parallelism
	}
	if req.Push {
		if stage.Pusher, err = b.Pusher(); err != nil {
			return nil, err
		}
		if b.Registry != nil {
			if stage.Registry, err = b.Registry(); err != nil {
				return nil, err
			}
		}
		if b.Evidence != nil {
			if stage.Evidence, err = b.Evidence(); err != nil {
				return nil, err
			}
		}
	}
	var src *gitops.Source
	if req.Repo != "" {
		src = &gitops.Source{Repo: req.Repo, From: req.Base, To: req.SHA}
	}
	return stage.Run(ctx, plans, req.Targets, src)
}

// plans resolves the services, commit and layout directory into build
// plans; cleanup removes a temporary layout directory.
func (b *Builds) plans(ctx context.Context, req *BuildRequest) ([]build.Plan, func(), error) {
	root := filepath.Dir(b.Config.Source())
	if filepath.Base(root) == ".github" {
		root = filepath.Dir(root)
	}
	services, err := SelectServices(b.Config, req.Services)
	if err != nil {
		return nil, nil, err
	}
	prov, err := b.provenance(ctx, root, req)
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {}
	outDir := req.OutputDir
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "automator-images-"); err != nil {
			return nil, nil, fmt.Errorf("creating layout directory: %w", err)
		}
		cleanup = func() { os.RemoveAll(outDir) }
	} else if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, nil, fmt.Errorf("resolving --output-dir: %w", err)
	}
	plans := make([]build.Plan, 0, len(services))
	for _, svc := range services {
		p, err := build.PlanService(svc, b.Config.Build, root, outDir, prov)
		if err != nil {
			cleanup()
			return nil, nil, &UsageError{Err: err}
		}
		plans = append(plans, p)
	}
	return plans, cleanup, nil
}

// provenance finds the commit (req.SHA, else git HEAD), its ref and time.
// Reproducible builds: every timestamp in the image is the commit time, so
// the same commit builds to the same digest in any job (fan-out matrix
// jobs, re-runs).
func (b *Builds) provenance(ctx context.Context, root string, req *BuildRequest) (build.Provenance, error) {
	repo, err := git.Open(root)
	if err != nil {
		return build.Provenance{}, err
	}
	if req.SHA == "" {
		if req.SHA, err = repo.ResolveCommit(ctx, "HEAD"); err != nil {
			return build.Provenance{}, usageErrorf("finding the commit to tag (pass --sha): %s: %w", root, err)
		}
	}
	if req.Ref == "" {
		req.Ref, _ = repo.CurrentBranch(ctx)
	}
	now := time.Now().UTC()
	td, err := build.NewTagData(req.SHA, req.Ref, now)
	if err != nil {
		return build.Provenance{}, &UsageError{Err: err}
	}
	prov := build.Provenance{Tag: td, Source: req.Source, Created: now}
	if ct, err := repo.CommitTime(ctx, req.SHA); err == nil {
		prov.Created, prov.Timestamp = ct, ct
	} else {
		b.Logger.Debug("commit time unknown: images carry the build time", zap.Error(err))
	}
	return prov, nil
}

// Delivery is `automator run`: build the planned services for the targets a
// build feeds, then write back into every target.
type Delivery struct {
	Builds *Builds
	// Promoter is asked for only when some environment is targeted.
	Promoter func() (Lander, error)
	Logger   *zap.Logger // required
}

// Delivered is what a run built and wrote.
type Delivered struct {
	// Images lists every selected service as reports show them (ForReport):
	// failed services carry their one-line reason.
	Images []*Image
	Envs   []EnvOutcome
}

// Run builds plan's services (when any target is fed by a build, or as a
// check when nothing is targeted) and writes back into targets. A run of a
// git tag (req.Ref refs/tags/…) publishes a release: every target it
// triggers, promoteFrom ones too, is fed by the build (their gates decide
// what is published under the release's tags), and a target with
// promoteFrom receives those of the run's images its upstream runs now,
// under the release's tag (WriteStage.Published). With dryRun
// nothing is pushed or written. An error that stops the run early comes
// with no Delivered; otherwise the error follows the exit precedence —
// failures first (exit 1), then gate blocks (exit 3); see RunErr.
func (d *Delivery) Run(ctx context.Context, plan *detect.Result, targets []*promote.Target, req BuildRequest, dryRun bool) (*Delivered, error) {
	out := &Delivered{}
	var buildErr error
	req.Targets = BuildTargets(targets)
	release := strings.HasPrefix(req.Ref, "refs/tags/")
	if release {
		req.Targets = targets
	}
	if len(plan.Services) > 0 && (len(req.Targets) > 0 || len(targets) == 0) {
		// With no target environment (e.g. a pull request that no trigger
		// names) the images are built and scanned as a check, not pushed:
		// nothing unreviewed reaches the registry.
		req.Push = !dryRun && len(targets) > 0
		if len(targets) == 0 {
			d.Logger.Info("no environment targeted: building and scanning only, nothing is pushed")
		}
		req.Services, req.Base = plan.Names(), plan.Base
		if plan.Head != "" {
			req.SHA = plan.Head
		}
		out.Images, buildErr = d.Builds.Run(ctx, req)
		var fe *build.FailedError
		if out.Images == nil && buildErr != nil && !errors.As(buildErr, &fe) {
			return nil, buildErr
		}
	}
	if len(targets) > 0 {
		p, err := d.Promoter()
		if err != nil {
			return nil, err
		}
		w := &WriteStage{Promoter: p, Logger: d.Logger.Named("writeback"), Published: release}
		out.Envs = w.Run(ctx, targets, Updates(out.Images, !dryRun))
	}
	// The summary and outputs list every selected service, failed ones too.
	out.Images = ForReport(out.Images, buildErr)
	return out, RunErr(buildErr, out.Envs)
}

// RunErr is the error of a run: a failed build first (exit 1), then failed
// write-backs that are not only gate blocks (exit 1), then the build's gate
// block, then write-backs blocked by the gate (exit 3).
func RunErr(buildErr error, envs []EnvOutcome) error {
	envErr := Err(envs)
	var fe *build.FailedError
	var ee *EnvError
	switch {
	case errors.As(buildErr, &fe):
		return buildErr
	case errors.As(envErr, &ee) && !ee.OnlyBlocked():
		return envErr
	case buildErr != nil:
		return buildErr
	}
	return envErr
}

// WithActionsEnv fills what the flags left empty from GitHub Actions
// variables (getenv): the commit and ref, the repository for PR links, and
// the source URL ($GITHUB_SERVER_URL/$GITHUB_REPOSITORY).
func (r BuildRequest) WithActionsEnv(getenv func(string) string) BuildRequest {
	if r.SHA == "" {
		r.SHA = getenv("GITHUB_SHA")
	}
	if r.Ref == "" {
		r.Ref = getenv("GITHUB_REF")
	}
	r.Repo = getenv("GITHUB_REPOSITORY")
	if r.Source == "" && r.Repo != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		r.Source = strings.TrimRight(server, "/") + "/" + r.Repo
	}
	return r
}

// Report prints each environment's diff and commit or pull request to out,
// and returns the step outputs and job summary of the delivery for the
// caller to publish.
func (d *Delivered) Report(out io.Writer, dryRun bool) ([]actions.Output, string, error) {
	for _, o := range d.Envs {
		if o.Result != nil {
			PrintResult(out, o.Result, dryRun)
		}
	}
	outs, err := Outputs(d.Images, d.Envs)
	if err != nil {
		return nil, "", err
	}
	return outs, SummaryMarkdown(d.Images, d.Envs), nil
}
