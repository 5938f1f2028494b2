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
		Use:   "copy SRC DST",
		Short: "Copy or re-tag an image (or index) by digest, without rebuilding",
		Long: `Copies the image or image index SRC (a tag or @sha256 digest) to DST, keeping its digest. Within one
repository this is a re-tag that uploads nothing; within one registry blobs are mounted; across
registries only missing blobs are transferred. When DST names no tag, SRC's tag is used. A DST of
the form repo:tag@sha256:… creates the tag only after checking that SRC has that digest.

An existing DST tag that points to a different digest is never moved unless --force is given.
Registry credentials and insecure (plain HTTP) registries come from the config's registries section
when a config file is found, plus the Docker config keychain and GITHUB_TOKEN for ghcr.io.

Prints DST as repo:tag@sha256:….`,
		Args: cobra.ExactArgs(2),
		Example: `  # Promote a release candidate to a release
  automator copy ghcr.io/acme/cart:2.1.1-rc1 ghcr.io/acme/cart:2.1.1

  # Copy a digest to the production registry under the same tag
  automator copy ghcr.io/acme/cart@sha256:4f1c... prod.registry.example/acme/cart:2.1.1

  # Move an existing tag deliberately
  automator copy ghcr.io/acme/cart:2.1.2 ghcr.io/acme/cart:stable --force`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil && !errors.Is(err, config.ErrNotFound) {
				return err
			}
			c, err := a.registryClient(cfg)
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

// registryClient builds the registry client from the config (nil when there is none) and the
// environment; every registry path (push, copy, watch, scan) goes through it.
func (a *app) registryClient(cfg *config.Config, extra ...registry.Option) (*registry.Client, error) {
	return registry.New(append([]registry.Option{
		registry.WithLogger(a.logger),
		registry.WithConfig(cfg, a.getenv),
		registry.WithUserAgent("automator/" + version),
	}, extra...)...)
}
