package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

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
		Use:     "run",
		Short:   "Plan, build, scan, push and write back: the whole job in one step",
		Long:    help("run.long") + exitCodesHelp,
		Args:    cobra.NoArgs,
		Example: help("run.example"),
		PreRunE: func(*cobra.Command, []string) error { return o.plan.validate() },
		RunE:    func(cmd *cobra.Command, _ []string) error { return runRun(cmd.Context(), a, &o, cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	o.plan.register(cmd, "service", "build every service", "build these services (repeatable, comma separated)")
	f.StringSliceVar(&o.envs, "env", nil, "target these environments instead of those whose triggers match (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "build and scan, but push nothing and only print the diffs and pull requests")
	f.StringVar(&o.builder, "builder", "", "override build.builder: auto, buildah or docker")
	f.IntVar(&o.parallelism, "parallelism", 0, "services built at once (default build.parallelism)")
	overrideFreezeFlag(cmd, a)
	return cmd
}

func runRun(ctx context.Context, a *app, o *runOptions, out io.Writer) error {
	ev, targets, err := a.EventTargets(o.envs)
	if err != nil {
		return err
	}
	res, err := a.Plan(ctx, ev, o.plan.Selection)
	if err != nil {
		return err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name()
	}
	a.Logger.Info("plan", zap.Strings("services", res.Names()), zap.String("range", res.Range), zap.Strings("environments", names))
	planOuts, err := res.Outputs()
	if err != nil {
		return err
	}
	b, err := a.Builds(ctx)
	if err != nil {
		return err
	}
	d := &pipeline.Delivery{Builds: b, Logger: a.Logger, Promoter: func() (pipeline.Lander, error) { return a.Promoter(ctx, o.dryRun) }}
	req := pipeline.BuildRequest{Builder: o.builder, Parallelism: o.parallelism}.WithActionsEnv(a.getenv)
	done, runErr := d.Run(ctx, res, targets, req, o.dryRun)
	if done == nil {
		return runErr
	}
	if err := a.ReportRun(out, done, o.dryRun, planOuts...); err != nil {
		return err
	}
	return runErr
}
