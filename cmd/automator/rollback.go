package main

import (
	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/pipeline"
)

type rollbackOptions struct {
	env, to    string
	reason, by string
	dryRun     bool
}

func newRollbackCmd(a *app) *cobra.Command {
	var o rollbackOptions
	cmd := &cobra.Command{
		Use:     "rollback --env ENV [--to COMMIT]",
		Short:   "Open a pull request restoring the images an environment ran at an earlier commit",
		Long:    help("rollback.long"),
		Args:    cobra.NoArgs,
		Example: help("rollback.example"),
		RunE:    func(cmd *cobra.Command, _ []string) error { return rollbackRun(cmd, a, &o) },
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment to roll back (required)")
	cmd.Flags().StringVar(&o.to, "to", "", "manifests repository commit whose image values to restore")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff and the pull request; write nothing")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why, recorded with the hold the rollback places (default: rolled back to COMMIT)")
	cmd.Flags().StringVar(&o.by, "by", actor(a), "who rolls back, recorded with the hold")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

// rollbackRun restores through the promoter's write-back; a rollback is
// never gated (it restores what ran before) and copies nothing.
func rollbackRun(cmd *cobra.Command, a *app, o *rollbackOptions) error {
	t, err := a.Target(o.env)
	if err != nil {
		return err
	}
	p, err := a.WritePromoter(o.dryRun)
	if err != nil {
		return err
	}
	res, err := p.Rollback(cmd.Context(), t, o.to, o.by, o.reason)
	if res != nil {
		pipeline.PrintResult(cmd.OutOrStdout(), res, o.dryRun)
	}
	return err
}
