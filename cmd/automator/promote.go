package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
)

type promoteOptions struct {
	env     string
	sets    []string
	dryRun  bool
	results string
}

func newPromoteCmd(a *app) *cobra.Command {
	var o promoteOptions
	cmd := &cobra.Command{
		Use:     "promote --env ENV [--set SERVICE=REPOSITORY:TAG]...",
		Short:   "Propose for an environment the digests its promoteFrom environment runs",
		Long:    help("promote.long"),
		Args:    cobra.NoArgs,
		Example: help("promote.example"),
		PreRunE: func(*cobra.Command, []string) error {
			switch {
			case o.results != "" && len(o.sets) > 0:
				return usageErrorf("--results and --set are exclusive")
			case o.results == "" && o.env == "":
				return usageErrorf("--env is required (or --results DIR)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.results != "" {
				return promoteResults(cmd.Context(), a, &o, cmd.OutOrStdout())
			}
			return promoteRun(cmd.Context(), a, &o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment to promote into (with --results: default the environments whose triggers match the event)")
	cmd.Flags().StringVar(&o.results, "results", "", "promote the build results in DIR (written by build --results in fan-out jobs)")
	cmd.Flags().StringArrayVar(&o.sets, "set", nil, "explicit image SERVICE=REPOSITORY:TAG (digest from the registry) or SERVICE=REPOSITORY[:TAG]@DIGEST, checked against the registry (repeatable)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff and the pull request; write nothing")
	overrideFreezeFlag(cmd, a)
	return cmd
}

func promoteRun(ctx context.Context, a *app, o *promoteOptions, out io.Writer) error {
	cfg, err := a.Config()
	if err != nil {
		return err
	}
	t, err := a.Target(o.env)
	if err != nil {
		return err
	}
	explicit, err := promote.ParseSets(promote.ImagesFromConfig(cfg), o.sets)
	if err != nil {
		return &usageError{err: err}
	}
	if err := gitops.CheckServices(cfg, t.Name(), explicit); err != nil {
		return err
	}
	if len(explicit) > 0 {
		rc, err := a.Registry()
		if err != nil {
			return err
		}
		if explicit, err = promote.ResolveSets(ctx, rc, explicit, a.Logger); err != nil {
			return err
		}
	}
	if len(explicit) == 0 && t.From == nil {
		return usageErrorf("environment %q has no promoteFrom: pass --set SERVICE=REPOSITORY:TAG", t.Name())
	}
	p, err := a.Promoter(ctx, o.dryRun)
	if err != nil {
		return err
	}
	res, err := p.Promote(ctx, t, explicit)
	if res != nil {
		pipeline.PrintResult(out, res, o.dryRun)
	}
	return err
}

// promoteResults writes back the images of build result files into the
// target environments, reusing the scan reports they carry.
func promoteResults(ctx context.Context, a *app, o *promoteOptions, out io.Writer) error {
	images, err := pipeline.ReadResults(o.results)
	if err != nil {
		return &usageError{err: err}
	}
	var names []string
	if o.env != "" {
		names = []string{o.env}
	}
	_, targets, err := a.EventTargets(names)
	if err != nil {
		return err
	}
	g, err := a.Gate(ctx)
	if err != nil {
		return err
	}
	p, err := a.Promoter(ctx, o.dryRun)
	if err != nil {
		return err
	}
	done := pipeline.DeliverResults(ctx, g, p, targets, images, a.Logger.Named("writeback"))
	if err := a.ReportRun(out, done, o.dryRun); err != nil {
		return err
	}
	return pipeline.Err(done.Envs)
}
