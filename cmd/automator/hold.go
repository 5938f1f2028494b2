package main

import (
	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/pipeline"
)

type holdOptions struct {
	env, service, reason, by string
	dryRun                   bool
}

// newHoldCmd builds `automator hold` (release false) or `automator
// release` (release true): both write the environment's holds file through
// its usual mode.
func newHoldCmd(a *app, release bool) *cobra.Command {
	var o holdOptions
	name, short := "hold", "Stop automated promotion of a service (or a whole environment) until released"
	if release {
		name, short = "release", "Let automation promote a held or reverted service (or environment) again"
	}
	cmd := &cobra.Command{
		Use:     name + " --env ENV [--service SERVICE] [--reason TEXT]",
		Short:   short,
		Long:    help(name + ".long"),
		Args:    cobra.NoArgs,
		Example: help(name + ".example"),
		PreRunE: func(*cobra.Command, []string) error {
			if !release && o.reason == "" {
				return usageErrorf("--reason is required: say why, for the people who find the hold")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return holdRun(cmd, a, &o, release) },
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment (required)")
	cmd.Flags().StringVar(&o.service, "service", "", "service (or watch rule) name; empty means the whole environment")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why (required for hold)")
	cmd.Flags().StringVar(&o.by, "by", actor(a), "who, recorded in the holds file and the commit trailers")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff and the commit or pull request; write nothing")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func holdRun(cmd *cobra.Command, a *app, o *holdOptions, release bool) error {
	t, err := a.Target(o.env)
	if err != nil {
		return err
	}
	// No gate, no copier: holds write only the holds file.
	p, err := a.WritePromoter(o.dryRun)
	if err != nil {
		return err
	}
	var res *gitops.Result
	if release {
		res, err = p.Release(cmd.Context(), t, o.service, o.by, o.reason)
	} else {
		res, err = p.Hold(cmd.Context(), t, holds.Hold{Service: o.service, By: o.by, Reason: o.reason})
	}
	if res != nil {
		pipeline.PrintResult(cmd.OutOrStdout(), res, o.dryRun)
	}
	return err
}

// actor is who runs the command: the Actions actor, else the local user.
func actor(a *app) string {
	return envOr(a.getenv, "GITHUB_ACTOR", a.getenv("USER"))
}

// overrideFreezeFlag adds --override-freeze to a command that promotes.
func overrideFreezeFlag(cmd *cobra.Command, a *app) {
	cmd.Flags().StringVar(&a.FreezeOverride, "override-freeze", "", "emergency: commit even inside a freeze window; the `REASON` lands in the Automator-Freeze-Override trailer")
}
