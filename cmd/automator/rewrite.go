package main

import (
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/rewrite"
)

type rewriteOptions struct {
	flags  rewrite.Flags
	dryRun bool
	insert bool
}

func newRewriteCmd(a *app) *cobra.Command {
	var o rewriteOptions
	cmd := &cobra.Command{
		Use:     "rewrite FILE... --set REPOSITORY=NEWREF [--set ...]",
		Short:   "Set image tags and digests in Helm values, kustomizations and manifests, byte-exact",
		Long:    help("rewrite.long"),
		Example: help("rewrite.example"),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ups, opts, err := o.flags.Parse()
			if err != nil {
				return &usageError{err: err}
			}
			return runRewrite(cmd, a, files, ups, opts, o.dryRun, o.insert)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.flags.Sets, "set", nil, "REPOSITORY=TAG, REPOSITORY=@DIGEST or REPOSITORY=TAG@DIGEST (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print a unified diff instead of writing")
	f.StringArrayVar(&o.flags.SharedTags, "shared-tag", nil, "YAML path of a tag shared by several images that may be updated (repeatable)")
	f.StringVar(&o.flags.KustomizeDigest, "kustomize-digest", "separate", "how kustomize images entries get a digest: separate (newTag + digest) or combined (newTag: TAG@DIGEST)")
	f.BoolVar(&o.flags.MarkersOnly, "markers-only", false, "only rewrite values carrying a $imagepolicy or automator marker")
	f.BoolVar(&o.insert, "insert", false, "add a kustomize images entry to the given kustomizations for an image no given file pins")
	_ = cmd.MarkFlagRequired("set")
	return cmd
}

func runRewrite(cmd *cobra.Command, a *app, files []string, ups []rewrite.Update, opts []rewrite.Option, dryRun, insert bool) error {
	summary := cmd.OutOrStdout()
	if dryRun {
		summary = cmd.ErrOrStderr()
	}
	results, err := rewrite.RewriteFiles(cmd.Context(), files, ups, dryRun, insert, cmd.OutOrStdout(), summary, opts...)
	for _, res := range results {
		if a.Logger != nil {
			a.Logger.Debug("rewrote manifest", zap.String("file", res.File), zap.Int("changes", len(res.Changes)), zap.Bool("dry_run", dryRun))
		}
	}
	return err
}
