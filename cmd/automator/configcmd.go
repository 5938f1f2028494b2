package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
)

func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate, print or describe automator.yaml",
		Args:  cobra.NoArgs,
		Example: `  automator config validate
  automator config print --config .github/automator.yaml
  automator config schema > automator.schema.json`,
	}
	cmd.AddCommand(newConfigValidateCmd(a), newConfigPrintCmd(a), newConfigSchemaCmd())
	return cmd
}

func newConfigValidateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the config strictly and report every problem with file:line:column",
		Long: `Strictly decodes the config: unknown keys, wrong types, invalid values and paths that do not
exist are all reported at once, each with file:line:column and the key path. Exit code 2 when
anything is wrong.`,
		Args: cobra.NoArgs,
		Example: `  automator config validate
  automator config validate --config deploy/automator.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.Config()
			if err != nil {
				return err
			}
			a.Logger.Info("config is valid", zap.String("file", cfg.Source()),
				zap.Int("services", len(cfg.Services)), zap.Int("environments", len(cfg.Environments)))
			return nil
		},
	}
}

func newConfigPrintCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "print",
		Short: "Print the effective config with defaults filled in",
		Args:  cobra.NoArgs,
		Example: `  automator config print
  automator config print --config .github/automator.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.Config()
			if err != nil {
				return err
			}
			return cfg.WriteYAML(cmd.OutOrStdout())
		},
	}
}

func newConfigSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of automator.yaml (for editors)",
		Long: `Prints the JSON Schema generated from the config types. The same schema ships at
schema/automator.schema.json; point your editor's YAML language server at it:

  # yaml-language-server: $schema=https://…/schema/automator.schema.json`,
		Args:    cobra.NoArgs,
		Example: `  automator config schema > .vscode/automator.schema.json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := config.Schema()
			if err != nil {
				return fmt.Errorf("generating schema: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(s)
			return err
		},
	}
}
