package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/factory"
)

func newCopyCmd(a *app) *cobra.Command {
	var force bool
	var mountFrom []string
	cmd := &cobra.Command{
		Use:     "copy SRC DST",
		Short:   "Copy or re-tag an image (or index) by digest, without rebuilding",
		Long:    help("copy.long"),
		Args:    cobra.ExactArgs(2),
		Example: help("copy.example"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.Config()
			if err != nil && !errors.Is(err, config.ErrNotFound) {
				return err
			}
			c, err := a.RegistryClient(cfg)
			if err != nil {
				return err
			}
			res, err := factory.CopyWithEvidence(cmd.Context(), c, args[0], args[1], force, mountFrom)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), res.Reference)
			return err
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "move DST even if it already points to another digest")
	cmd.Flags().StringSliceVar(&mountFrom, "mount-from", nil, "repositories in DST's registry that may hold SRC's blobs already: mounted, not uploaded")
	return cmd
}
