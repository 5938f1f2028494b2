package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/pipeline"
)

type buildOptions struct {
	services    []string
	push        bool
	sha, ref    string
	source      string
	outputDir   string
	builder     string
	parallelism int
	envs        []string
	results     string
}

func newBuildCmd(a *app) *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:     "build",
		Short:   "Build service images into OCI layouts and optionally push them",
		Long:    help("build.long"),
		Args:    cobra.NoArgs,
		Example: help("build.example"),
		RunE:    func(cmd *cobra.Command, _ []string) error { return buildRun(cmd.Context(), a, &o, cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.services, "service", nil, "service to build (repeatable; default all)")
	f.BoolVar(&o.push, "push", false, "push the built images to their registries")
	f.StringVar(&o.sha, "sha", "", "commit SHA the build is for (default $GITHUB_SHA, then git rev-parse HEAD)")
	f.StringVar(&o.ref, "ref", "", "git ref, e.g. refs/heads/main or refs/tags/v1.2.3 (default $GITHUB_REF, then the current branch)")
	f.StringVar(&o.source, "source", "", "source repository URL for org.opencontainers.image.source (default $GITHUB_SERVER_URL/$GITHUB_REPOSITORY)")
	f.StringVar(&o.outputDir, "output-dir", "", "keep OCI layouts in DIR/<service> (default a temporary directory removed at exit)")
	f.StringVar(&o.builder, "builder", "", "override build.builder: auto, buildah or docker")
	f.IntVar(&o.parallelism, "parallelism", 0, "services built at once (default build.parallelism)")
	f.StringSliceVar(&o.envs, "env", nil, "target environments whose gate decides whether an image is pushed (default: those whose triggers match the event, else scan.policy)")
	f.StringVar(&o.results, "results", "", "write one result file per service (digest, scan verdicts) to DIR, for promote --results")
	return cmd
}

func buildRun(ctx context.Context, a *app, o *buildOptions, out io.Writer) error {
	_, targets, err := a.EventTargets(o.envs)
	if err != nil {
		return err
	}
	if len(o.envs) == 0 {
		targets = pipeline.BuildTargets(targets)
	}
	b, err := a.Builds(ctx)
	if err != nil {
		return err
	}
	req := pipeline.BuildRequest{Services: o.services, Targets: targets, Push: o.push, SHA: o.sha, Ref: o.ref,
		Source: o.source, OutputDir: o.outputDir, Builder: o.builder, Parallelism: o.parallelism}.WithActionsEnv(a.getenv)
	images, runErr := b.Run(ctx, req)
	var fe *build.FailedError
	if images == nil && runErr != nil && !errors.As(runErr, &fe) {
		return runErr
	}
	if o.results != "" {
		if err := pipeline.WriteResults(o.results, images); err != nil {
			return err
		}
	}
	data, err := pipeline.ImagesJSON(images, runErr)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, data); err != nil {
		return err
	}
	if err := a.Publish([]actions.Output{{Name: "images", Value: data}}, ""); err != nil {
		return err
	}
	return runErr
}
