package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/scan"
)

// builtImage is one entry of the `images` output.
type builtImage struct {
	Service string   `json:"service"`
	Image   string   `json:"image"`
	Tags    []string `json:"tags"`
	Digest  string   `json:"digest"`
	Pushed  bool     `json:"pushed"`
	// References are repo:tag@digest for every repository pushed to (only when pushed).
	References []string `json:"references,omitempty"`
	// Layout is the OCI layout directory (only when --output-dir keeps it).
	Layout string `json:"layout,omitempty"`
	// Status is "failed", with Error its one-line reason, for a service
	// whose build, scan or push failed.
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

type buildOptions struct {
	services    []string
	push        bool
	sha, ref    string
	source      string
	outputDir   string
	builder     string
	parallelism int
	envs        []string
	results     string
	// base is the start of the commit range (run), for PR links.
	base string
}

func newBuildCmd(a *app) *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build service images into OCI layouts and optionally push them",
		Long: `Builds each selected service (all services when --service is not given) once with buildah or
docker buildx (build.builder), into an OCI image layout, tagged from build.tags (default
sha-<12 hex of the commit>, plus the semantic version on a tag push) and labelled with the
org.opencontainers.image.* labels. Invalid tags are rejected before anything is built.

Each image is scanned (unless scan.enabled is false) and gated by the policies of the --env
environments, or by scan.policy when none is given: an image blocked for every one of them is not
pushed (exit 3).

With --push the images are pushed to service.image and its mirrors, with the same digest everywhere.
Services build concurrently (--parallelism); a failing service does not affect the others, and the
command exits 1 naming the services that failed and those that succeeded.

Prints a JSON list [{"service","image","tags","digest","pushed"}] and, in GitHub Actions, writes it to
GITHUB_OUTPUT as "images".`,
		Args: cobra.NoArgs,
		Example: `  # Build and push two services of the monorepo
  automator build --service cart --service checkout --push

  # Build everything locally and keep the OCI layouts for inspection
  automator build --output-dir ./out

  # Outside Actions, say which commit and ref the build is for
  automator build --service cart --sha "$(git rev-parse HEAD)" --ref refs/tags/v2.1.1 --push`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return a.runBuild(cmd.Context(), cmd, cfg, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.services, "service", nil, "service to build (repeatable; default all)")
	f.BoolVar(&o.push, "push", false, "push the built images to their registries")
	f.StringVar(&o.sha, "sha", "", "commit SHA the build is for (default $GITHUB_SHA, then git rev-parse HEAD)")
	f.StringVar(&o.ref, "ref", "", "git ref, e.g. refs/heads/main or refs/tags/v1.2.3 (default $GITHUB_REF, then the current branch)")
	f.StringVar(&o.source, "source", "", "source repository URL for org.opencontainers.image.source (default $GITHUB_SERVER_URL/$GITHUB_REPOSITORY)")
	f.StringVar(&o.outputDir, "output-dir", "", "keep OCI layouts in DIR/<service> (default a temporary directory removed at exit)")
	f.StringVar(&o.builder, "builder", "", "override build.builder: auto, buildah or docker")
	f.IntVar(&o.parallelism, "parallelism", 0, "services built at once (default build.parallelism)")
	f.StringSliceVar(&o.envs, "env", nil, "target environments whose gate decides whether an image is pushed (default: those whose triggers match the event, else scan.policy)")
	f.StringVar(&o.results, "results", "", "write one result file per service (digest, scan verdicts) to DIR, for promote --results")
	return cmd
}

func (a *app) runBuild(ctx context.Context, cmd *cobra.Command, cfg *config.Config, o buildOptions) error {
	ev, err := event.FromEnv(a.getenv)
	if err != nil {
		return err
	}
	envs, err := pipeline.Targets(cfg, ev, o.envs)
	if err != nil {
		return err
	}
	if len(o.envs) == 0 {
		o.envs = buildTargets(envs)
	}
	g, closeGate, err := a.newGate(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeGate()
	images, runErr := a.buildImages(ctx, cfg, g, o)
	if images == nil && runErr != nil {
		var fe *build.FailedError
		if !errors.As(runErr, &fe) {
			return runErr
		}
	}
	if o.results != "" {
		if err := pipeline.WriteResults(o.results, images); err != nil {
			return err
		}
	}
	list := make([]*builtImage, 0, len(images))
	for _, im := range pipeline.ForReport(images, runErr) {
		b := &builtImage{Service: im.Service, Image: im.Image, Tags: im.Tags, Digest: im.Digest, Pushed: im.Pushed, References: im.References, Layout: im.Layout}
		if im.Error != "" {
			b.Status, b.Error = "failed", im.Error
		}
		list = append(list, b)
	}
	data, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encoding images: %w", err)
	}
	if _, err := fmt.Fprintln(cmd.OutOrStdout(), string(data)); err != nil {
		return err
	}
	if err := a.step().WriteOutputs(actions.Output{Name: "images", Value: string(data)}); err != nil {
		return err
	}
	return runErr
}

// buildImages plans, builds, scans and (with o.push) pushes the services,
// gated by the policies of o.envs. It is shared by build and run.
func (a *app) buildImages(ctx context.Context, cfg *config.Config, g *pipeline.Gate, o buildOptions) ([]*pipeline.Image, error) {
	root := filepath.Dir(cfg.Source())
	if filepath.Base(root) == ".github" {
		root = filepath.Dir(root)
	}
	services, err := selectServices(cfg, o.services)
	if err != nil {
		return nil, err
	}
	sha, ref, err := a.commit(ctx, root, o)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	td, err := build.NewTagData(sha, ref, now)
	if err != nil {
		return nil, usageErrorf("%w", err)
	}
	source := o.source
	if source == "" && a.getenv("GITHUB_REPOSITORY") != "" {
		source = strings.TrimRight(envOr(a.getenv, "GITHUB_SERVER_URL", "https://github.com"), "/") + "/" + a.getenv("GITHUB_REPOSITORY")
	}
	outDir := o.outputDir
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "automator-images-"); err != nil {
			return nil, fmt.Errorf("creating layout directory: %w", err)
		}
		defer os.RemoveAll(outDir)
	} else if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, fmt.Errorf("resolving --output-dir: %w", err)
	}
	// Reproducible builds: every timestamp in the image is the commit time, so the same commit
	// builds to the same digest in any job (fan-out matrix jobs, re-runs).
	prov := build.Provenance{Tag: td, Source: source, Created: now}
	if ct, err := commitTime(ctx, root, sha); err == nil {
		prov.Created, prov.Timestamp = ct, ct
	} else {
		a.logger.Debug("commit time unknown: images carry the build time", zap.Error(err))
	}
	plans := make([]build.Plan, 0, len(services))
	for _, svc := range services {
		p, err := build.PlanService(svc, cfg.Build, root, outDir, prov)
		if err != nil {
			return nil, usageErrorf("%w", err)
		}
		plans = append(plans, p)
	}

	backend := cfg.Build.Builder
	if o.builder != "" {
		backend = o.builder
	}
	builder, err := build.New(ctx, backend, build.WithLogger(a.logger))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := builder.Close(); err != nil {
			a.logger.Warn("cleaning up builder", zap.Error(err))
		}
	}()
	stage := &pipeline.BuildStage{
		Builder: builder, OpenLayout: scan.OpenLayout, Gate: g, Logger: a.logger,
		Parallelism: cfg.Build.Parallelism, KeepLayouts: o.outputDir != "", Group: a.groupedLogs(),
	}
	if o.parallelism > 0 {
		stage.Parallelism = o.parallelism
	}
	if o.push {
		if stage.Pusher, err = a.registryClient(cfg); err != nil {
			return nil, err
		}
	}
	src := a.source(sha)
	if src != nil {
		src.From = o.base
	}
	return stage.Run(ctx, plans, o.envs, src)
}

// buildTargets are the environments fed by a build: those without
// promoteFrom (which take what their upstream runs instead).
func buildTargets(envs []config.Environment) []string {
	var out []string
	for _, e := range envs {
		if e.PromoteFrom == "" {
			out = append(out, e.Name)
		}
	}
	return out
}

// source is the app commit the images are built from, for PR links.
func (a *app) source(sha string) *gitops.Source {
	repo := a.getenv("GITHUB_REPOSITORY")
	if repo == "" {
		return nil
	}
	return &gitops.Source{Repo: repo, To: sha}
}

// commitTime is the committer time of sha in the repository at root.
func commitTime(ctx context.Context, root, sha string) (time.Time, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "show", "-s", "--format=%ct", sha).Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the time of commit %s: %w", sha, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the time of commit %s: %w", sha, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// selectServices returns the named services in config order (explicit
// entries, then those created by discover), or all of them when names is
// empty.
func selectServices(cfg *config.Config, names []string) ([]config.Service, error) {
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

// commit returns the commit SHA and ref the build is for: flags, then GitHub Actions variables, then git.
func (a *app) commit(ctx context.Context, root string, o buildOptions) (sha, ref string, err error) {
	sha, ref = o.sha, o.ref
	if sha == "" {
		sha = a.getenv("GITHUB_SHA")
	}
	if ref == "" {
		ref = a.getenv("GITHUB_REF")
	}
	if sha == "" {
		out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
		if err != nil {
			return "", "", usageErrorf("finding the commit to tag (pass --sha): git rev-parse HEAD in %s: %w", root, err)
		}
		sha = strings.TrimSpace(string(out))
	}
	if ref == "" {
		if out, err := exec.CommandContext(ctx, "git", "-C", root, "symbolic-ref", "-q", "HEAD").Output(); err == nil {
			ref = strings.TrimSpace(string(out))
		}
	}
	return sha, ref, nil
}
