package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/pipeline"
)

type runOptions struct {
	plan        planFlags
	envs        []string
	dryRun      bool
	builder     string
	parallelism int
}

func newRunCmd(a *app) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Plan, build, scan, push and write back: the whole job in one step",
		Long: `Composes the stages for the current GitHub event (or the flags outside Actions):

  plan        which services changed (see automator plan)
  build       each selected service once, in parallel, into an OCI layout
  scan        each image with Trivy before it is pushed, gated per target environment
  push        images allowed into at least one target environment
  write-back  one commit or one pull request per target environment

Target environments are those whose triggers match the event (e.g. dev on pushes to main,
staging on tags v*-rc*), or --env. When none is targeted (a pull request no trigger names), the
changed services are built and scanned as a check, and nothing is pushed or written. An environment with promoteFrom receives exactly what its
upstream environment runs now, after its own gate. Partial failures are reported per service and
per environment.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		Example: `  # In a workflow step: everything comes from the event
  automator run

  # Locally: what would a push of these commits do to dev? Writes nothing.
  automator run --base origin/main --head HEAD --env dev --dry-run

  # Rebuild everything and promote to dev
  automator run --all --env dev`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return a.runAll(cmd.Context(), cmd, cfg, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.plan.base, "base", "", "diff from this revision (outside Actions)")
	f.StringVar(&o.plan.head, "head", "", "diff to this revision (default HEAD; needs --base)")
	f.BoolVar(&o.plan.all, "all", false, "build every service")
	f.StringSliceVar(&o.plan.services, "service", nil, "build these services (repeatable, comma separated)")
	f.StringVar(&o.plan.remote, "remote", "origin", "git remote to fetch missing history from")
	f.StringSliceVar(&o.envs, "env", nil, "target these environments instead of those whose triggers match (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "build and scan, but push nothing and only print the diffs and pull requests")
	f.StringVar(&o.builder, "builder", "", "override build.builder: auto, buildah or docker")
	f.IntVar(&o.parallelism, "parallelism", 0, "services built at once (default build.parallelism)")
	cmd.MarkFlagsMutuallyExclusive("base", "all", "service")
	return cmd
}

func (a *app) runAll(ctx context.Context, cmd *cobra.Command, cfg *config.Config, o runOptions) error {
	if o.plan.head != "" && o.plan.base == "" {
		return usageErrorf("--head needs --base")
	}
	ev, err := event.FromEnv(a.getenv)
	if err != nil {
		return err
	}
	envs, err := pipeline.Targets(cfg, ev, o.envs)
	if err != nil {
		return err
	}
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	res, err := a.plan(ctx, cfg, ev, o.plan)
	if err != nil {
		return err
	}
	a.logger.Info("plan", zap.Strings("services", res.Names()), zap.String("range", res.Range), zap.Strings("environments", names))
	planOuts, err := res.Outputs()
	if err != nil {
		return err
	}

	built := buildTargets(envs)
	g, closeGate, err := a.newGate(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeGate()

	var images []*pipeline.Image
	var buildErr error
	if len(res.Services) > 0 && (len(built) > 0 || len(envs) == 0) {
		// With no target environment (e.g. a pull request that no trigger
		// names) the images are built and scanned as a check, not pushed:
		// nothing unreviewed reaches the registry.
		push := !o.dryRun && len(envs) > 0
		if len(envs) == 0 {
			a.logger.Info("no environment targeted: building and scanning only, nothing is pushed")
		}
		images, buildErr = a.buildImages(ctx, cfg, g, buildOptions{
			services: res.Names(), sha: res.Head, base: res.Base, push: push,
			builder: o.builder, parallelism: o.parallelism, envs: built,
		})
		if images == nil && buildErr != nil {
			var fe *build.FailedError
			if !errors.As(buildErr, &fe) {
				return buildErr
			}
		}
	}

	var outcomes []pipeline.EnvOutcome
	if len(envs) > 0 {
		p, err := a.promoter(ctx, cfg, g, o.dryRun)
		if err != nil {
			return err
		}
		w := &pipeline.WriteStage{Promoter: p, Config: cfg, Logger: a.logger.Named("writeback")}
		outcomes = w.Run(ctx, envs, pipeline.Updates(images, !o.dryRun))
	}
	// The summary and outputs list every selected service, failed ones too.
	if err := a.reportRun(cmd.OutOrStdout(), pipeline.ForReport(images, buildErr), outcomes, o.dryRun, planOuts...); err != nil {
		return err
	}
	// Failures first (exit 1), then gate blocks (exit 3).
	envErr := pipeline.Err(outcomes)
	var fe *build.FailedError
	switch {
	case errors.As(buildErr, &fe):
		return buildErr
	case envErr != nil && exitCode(envErr) == exitFailure:
		return envErr
	case buildErr != nil:
		return buildErr
	}
	return envErr
}
