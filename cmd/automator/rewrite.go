package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/rewrite"
)

type rewriteOptions struct {
	sets       []string
	dryRun     bool
	sharedTags []string
	kustomize  string
	markers    bool
}

func newRewriteCmd(a *app) *cobra.Command {
	var o rewriteOptions
	cmd := &cobra.Command{
		Use:   "rewrite FILE... --set REPOSITORY=NEWREF [--set ...]",
		Short: "Set image tags and digests in Helm values, kustomizations and manifests, byte-exact",
		Long: `rewrite changes the image references that point at the given repositories and nothing else:
comments, blank lines, indentation, quoting and key order stay as they were, so the diff shows
only the changed values. NEWREF is TAG, @sha256:DIGEST or TAG@sha256:DIGEST.

Helm values (image.repository/tag/digest, Bitnami registry/repository, registry/name, version),
image strings (repo:tag@digest), Flux HelmRelease spec.values, kustomize images entries (added
when missing) and '# {"$imagepolicy": ...}' / '# automator: SERVICE[:tag|:digest]' markers are
understood. Files under a Helm templates/ directory are skipped.

Files are rewritten in place atomically. With --dry-run a unified diff goes to stdout and the
summary to stderr, and nothing is written. The exit code is 0 whether or not anything changed;
1 when a file cannot be rewritten (invalid YAML, ambiguous match, missing field), in which case
that file is left untouched.`,
		Example: `  # Pin a tag and digest in a values file
  automator rewrite envs/dev/values.yaml --set ghcr.io/acme/cart=1.4.0@sha256:4b6f...e1

  # Preview the change to two overlays as a patch
  automator rewrite overlays/staging/kustomization.yaml overlays/prod/kustomization.yaml \
    --set ghcr.io/acme/cart=@sha256:4b6f...e1 --dry-run > promote.patch

  # Allow a tag shared by every image under images.repository to move
  automator rewrite helm-chart/values.yaml --shared-tag images.tag \
    --set us-central1-docker.pkg.dev/acme/boutique/frontend=v0.10.7`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ups, opts, err := o.parse()
			if err != nil {
				return err
			}
			return runRewrite(cmd, a, files, ups, opts, o.dryRun)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.sets, "set", nil, "REPOSITORY=TAG, REPOSITORY=@DIGEST or REPOSITORY=TAG@DIGEST (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print a unified diff instead of writing")
	f.StringArrayVar(&o.sharedTags, "shared-tag", nil, "YAML path of a tag shared by several images that may be updated (repeatable)")
	f.StringVar(&o.kustomize, "kustomize-digest", "separate", "how kustomize images entries get a digest: separate (newTag + digest) or combined (newTag: TAG@DIGEST)")
	f.BoolVar(&o.markers, "markers-only", false, "only rewrite values carrying a $imagepolicy or automator marker")
	_ = cmd.MarkFlagRequired("set")
	return cmd
}

func (o rewriteOptions) parse() ([]rewrite.Update, []rewrite.Option, error) {
	var ups []rewrite.Update
	for _, s := range o.sets {
		u, err := rewrite.ParseUpdate(s)
		if err != nil {
			return nil, nil, &usageError{err: fmt.Errorf("--set: %w", err)}
		}
		ups = append(ups, u)
	}
	var opts []rewrite.Option
	for _, p := range o.sharedTags {
		opts = append(opts, rewrite.WithSharedTag(p))
	}
	switch o.kustomize {
	case "separate":
	case "combined":
		opts = append(opts, rewrite.WithKustomizeDigestMode(rewrite.KustomizeCombined))
	default:
		return nil, nil, usageErrorf("--kustomize-digest: want separate or combined, got %q", o.kustomize)
	}
	if o.markers {
		opts = append(opts, rewrite.WithMarkersOnly())
	}
	return ups, opts, nil
}

func runRewrite(cmd *cobra.Command, a *app, files []string, ups []rewrite.Update, opts []rewrite.Option, dryRun bool) error {
	out := cmd.OutOrStdout()
	summary := out
	if dryRun {
		summary = cmd.ErrOrStderr()
	}
	var errs []error
	changed := 0
	for _, file := range files {
		var res rewrite.Result
		var err error
		if dryRun {
			var in, next []byte
			in, err = os.ReadFile(file)
			if err == nil {
				next, res, err = rewrite.Rewrite(file, in, ups, opts...)
				if err == nil {
					_, err = io.WriteString(out, rewrite.UnifiedDiff("a/"+file, "b/"+file, in, next))
				}
			}
		} else {
			res, err = rewrite.RewriteFile(cmd.Context(), file, ups, opts...)
		}
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(summary, "%s: error, left untouched: %v\n", file, err)
			continue
		}
		if res.Changed() {
			changed++
		}
		printRewriteSummary(summary, res, dryRun)
		if a.logger != nil {
			a.logger.Debug("rewrote manifest", zap.String("file", file), zap.Int("changes", len(res.Changes)), zap.Bool("dry_run", dryRun))
		}
	}
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	fmt.Fprintf(summary, "%d of %d files %s\n", changed, len(files), verb)
	return errors.Join(errs...)
}

func printRewriteSummary(w io.Writer, res rewrite.Result, dryRun bool) {
	switch {
	case res.SkipReason != "":
		fmt.Fprintf(w, "%s: skipped: %s\n", res.File, res.SkipReason)
	case !res.Changed():
		fmt.Fprintf(w, "%s: no change\n", res.File)
	default:
		n := "changes"
		if len(res.Changes) == 1 {
			n = "change"
		}
		if dryRun {
			n += " (dry run, not written)"
		}
		fmt.Fprintf(w, "%s: %d %s\n", res.File, len(res.Changes), n)
		for _, c := range res.Changes {
			old := c.Old
			if old == "" {
				old = `""`
			}
			fmt.Fprintf(w, "  line %d %s: %s → %s (%s)\n", c.Line, c.Path, old, c.New, c.Repository)
		}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "  left alone: line %d %s: %s\n", s.Line, s.Path, s.Reason)
	}
}
