package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
)

func newCopyCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "copy SRC DST",
		Short:   "Copy or re-tag an image (or index) by digest, without rebuilding",
		Long:    help("copy.long"),
		Args:    cobra.ExactArgs(2),
		Example: help("copy.example"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var regs []config.Registry
			cfg, err := a.config()
			switch {
			case err == nil:
				regs = cfg.Registries
			case !errors.Is(err, config.ErrNotFound):
				return err
			}
			c, err := a.registryClient(cfg, regs)
			if err != nil {
				return err
			}
			res, err := c.Copy(cmd.Context(), args[0], args[1], force)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), res.Reference)
			return err
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "move DST even if it already points to another digest")
	return cmd
}

// registryClient builds the registry client from config registries (may be nil) and the environment.
func (a *app) registryClient(cfg *config.Config, regs []config.Registry) (*registry.Client, error) {
	tokenEnv := "GITHUB_TOKEN"
	if cfg != nil && cfg.GitHub.TokenEnv != "" {
		tokenEnv = cfg.GitHub.TokenEnv
	}
	return registry.New(
		registry.WithLogger(a.logger),
		registry.WithRegistries(regs, a.getenv),
		registry.WithGitHubToken(a.getenv("GITHUB_ACTOR"), a.getenv(tokenEnv)),
		registry.WithUserAgent("automator/"+version),
	)
}
