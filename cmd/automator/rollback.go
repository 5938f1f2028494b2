package main

import (
	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
)

type rollbackOptions struct {
	env, to string
	dryRun  bool
}

const rollbackExample = `  # Undo the latest promotion of prod
  automator rollback --env prod

  # Restore what prod ran at a given commit of the manifests repository
  automator rollback --env prod --to 4f1c2ab

  # Preview
  automator rollback --env prod --dry-run`

func newRollbackCmd(a *app) *cobra.Command {
	var o rollbackOptions
	cmd := &cobra.Command{
		Use:   "rollback --env ENV [--to COMMIT]",
		Short: "Open a pull request restoring the images an environment ran at an earlier commit",
		Long: `Reads the image values of the environment's files at COMMIT (default: the commit before the latest
change to those files) and opens a pull request on automator/rollback-ENV that restores them.
Always a pull request, whatever the environment's mode.`,
		Args:    cobra.NoArgs,
		Example: rollbackExample,
		RunE:    func(cmd *cobra.Command, _ []string) error { return rollbackRun(cmd, a, &o) },
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment to roll back (required)")
	cmd.Flags().StringVar(&o.to, "to", "", "manifests repository commit whose image values to restore")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff and the pull request; write nothing")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

// rollbackRun restores through the promoter's write-back; a rollback is
// never gated (it restores what ran before) and copies nothing.
func rollbackRun(cmd *cobra.Command, a *app, o *rollbackOptions) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	t, err := a.target(o.env)
	if err != nil {
		return err
	}
	w, err := a.writer(o.dryRun)
	if err != nil {
		return err
	}
	p := &promote.Promoter{Writer: w, Images: promote.ImagesFromConfig(cfg)}
	res, err := p.Rollback(cmd.Context(), t, o.to)
	if res != nil {
		pipeline.PrintResult(cmd.OutOrStdout(), res, o.dryRun)
	}
	return err
}
