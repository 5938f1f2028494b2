package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/rewrite"
)

type promoteOptions struct {
	env     string
	sets    []string
	dryRun  bool
	results string
}

const promoteLong = `Reads the images that the environment's promoteFrom environment pins now (from its files in the
manifests repository), copies them into the environment's registry when it differs, and writes
them back by commit or pull request as the environment's mode says. --set promotes explicit
images instead. A re-run updates the same pull request; nothing new changes nothing.`

const promoteExample = `  # Propose for prod what staging runs now
  automator promote --env prod

  # Show the diff and the pull request it would open, writing nothing
  automator promote --env prod --dry-run

  # Fan-out: write back the results of the matrix build jobs, once per environment
  automator promote --results results/

  # Promote an explicit image
  automator promote --env staging --set cart=ghcr.io/acme/cart:1.4.0@sha256:4f1c...`

func newPromoteCmd(a *app) *cobra.Command {
	var o promoteOptions
	cmd := &cobra.Command{
		Use:     "promote --env ENV [--set SERVICE=REF@DIGEST]...",
		Short:   "Propose for an environment the digests its promoteFrom environment runs",
		Long:    promoteLong,
		Args:    cobra.NoArgs,
		Example: promoteExample,
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
	cmd.Flags().StringArrayVar(&o.sets, "set", nil, "explicit image SERVICE=REPOSITORY[:TAG]@DIGEST (repeatable)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff and the pull request; write nothing")
	return cmd
}

func promoteRun(ctx context.Context, a *app, o *promoteOptions, out io.Writer) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	t, err := a.target(o.env)
	if err != nil {
		return err
	}
	explicit, err := parseSets(cfg, o.sets)
	if err != nil {
		return err
	}
	if len(explicit) == 0 && t.From == nil {
		return usageErrorf("environment %q has no promoteFrom: pass --set SERVICE=REF@DIGEST", t.Name())
	}
	p, err := a.promoter(ctx, o.dryRun)
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
	_, targets, err := a.eventTargets(names)
	if err != nil {
		return err
	}
	g, err := a.gate(ctx)
	if err != nil {
		return err
	}
	for _, im := range images {
		if im.Report != nil {
			g.Remember(im.Report, im.Digest)
		}
	}
	p, err := a.promoter(ctx, o.dryRun)
	if err != nil {
		return err
	}
	w := &pipeline.WriteStage{Promoter: p, Logger: a.logger.Named("writeback")}
	done := &pipeline.Delivered{Images: images, Envs: w.Run(ctx, targets, pipeline.Updates(images, true))}
	if err := a.reportRun(out, done, o.dryRun); err != nil {
		return err
	}
	return pipeline.Err(done.Envs)
}

// target is the named environment, resolved (a usage error when unknown).
func (a *app) target(name string) (*promote.Target, error) {
	all, err := a.targets()
	if err != nil {
		return nil, err
	}
	ts, err := all.Lookup(name)
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// reportRun prints the environments' diffs and pull requests, and in
// Actions writes the step outputs and job summary of a run.
func (a *app) reportRun(out io.Writer, done *pipeline.Delivered, dryRun bool, extra ...actions.Output) error {
	for _, o := range done.Envs {
		if o.Result != nil {
			pipeline.PrintResult(out, o.Result, dryRun)
		}
	}
	outs, err := pipeline.Outputs(done.Images, done.Envs)
	if err != nil {
		return err
	}
	return a.publish(append(extra, outs...), pipeline.SummaryMarkdown(done.Images, done.Envs))
}

// parseSets parses --set SERVICE=REPOSITORY[:TAG]@DIGEST; a bare
// SERVICE=[TAG]@DIGEST takes the service's configured image.
func parseSets(cfg *config.Config, sets []string) ([]gitops.Update, error) {
	images := promote.ImagesFromConfig(cfg)
	var out []gitops.Update
	for _, s := range sets {
		svc, ref, ok := strings.Cut(s, "=")
		if !ok || svc == "" || ref == "" {
			return nil, usageErrorf("--set %q: want SERVICE=REPOSITORY[:TAG]@DIGEST", s)
		}
		repo := images[svc]
		if strings.Contains(ref, "/") {
			name, rest, _ := strings.Cut(ref, "@")
			if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
				repo, ref = name[:i], name[i+1:]+"@"+rest
			} else {
				repo, ref = name, "@"+rest
			}
		}
		if repo == "" {
			return nil, usageErrorf("--set %q: unknown service %q; name the repository: %s=REPOSITORY:TAG@DIGEST", s, svc, svc)
		}
		tag, digest, err := rewrite.ParseRef(ref)
		if err != nil {
			return nil, usageErrorf("--set %q: %v", s, err)
		}
		if digest == "" {
			return nil, usageErrorf("--set %q: promotion pins digests: add @sha256:…", s)
		}
		out = append(out, gitops.Update{Service: svc, Repository: repo, Tag: tag, Digest: digest})
	}
	return out, nil
}
