package main

import (
	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/gitops"
)

func newRollbackCmd(a *app) *cobra.Command {
	var (
		envName, to string
		dryRun      bool
	)
	cmd := &cobra.Command{
		Use:   "rollback --env ENV [--to COMMIT]",
		Short: "Open a pull request restoring the images an environment ran at an earlier commit",
		Long: `Reads the image values of the environment's files at COMMIT (default: the commit before the latest
change to those files) and opens a pull request on automator/rollback-ENV that restores them.
Always a pull request, whatever the environment's mode.`,
		Args: cobra.NoArgs,
		Example: `  # Undo the latest promotion of prod
  automator rollback --env prod

  # Restore what prod ran at a given commit of the manifests repository
  automator rollback --env prod --to 4f1c2ab

  # Preview
  automator rollback --env prod --dry-run`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			env, err := findEnv(cfg, envName)
			if err != nil {
				return err
			}
			w, err := a.gitopsWriter(cmd.Context(), cfg, dryRun)
			if err != nil {
				return err
			}
			p := &gitops.Promoter{Writer: w, Images: gitops.ImagesFromConfig(cfg)}
			res, err := p.Rollback(cmd.Context(), *env, to)
			if res != nil {
				printResult(cmd.OutOrStdout(), res, dryRun)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&envName, "env", "", "environment to roll back (required)")
	cmd.Flags().StringVar(&to, "to", "", "manifests repository commit whose image values to restore")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the diff and the pull request; write nothing")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}
