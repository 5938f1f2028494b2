package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

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
	insert     bool
}

func newRewriteCmd(a *app) *cobra.Command {
	var o rewriteOptions
	cmd := &cobra.Command{
		Use:   "rewrite FILE... --set REPOSITORY=NEWREF [--set ...]",
		Short: "Set image tags and digests in Helm values, kustomizations and manifests, byte-exact",
		Long: `rewrite changes the image references that point at the given repositories and nothing else:
comments, blank lines, indentation, quoting and key order stay as they were, so the diff shows
only the changed values. NEWREF is TAG, @sha256:DIGEST or TAG@sha256:DIGEST.

Helm values (image.repository/tag/digest, Bitnami registry/repository, registry/name, image.name,
version, a registry set in a parent map or global.imageRegistry), image strings (repo:tag@digest),
Flux HelmRelease spec.values, kustomize images entries (matched by name, newName kept; added with
--insert) and '# {"$imagepolicy": ...}' / '# automator: SERVICE[:tag|:digest]' markers are
understood. Files under a Helm templates/ directory are skipped.

A tag-only update that changes the tag never leaves a digest pinning the previous image: a
kustomize digest field is removed (as 'kustomize edit set image' does), a Helm or marked digest is
emptied (""). A value
shared through an anchor with another image is not edited (the alias at the site gets its own
value, or the file is refused). Sites that name an image but are left alone (already at the value,
a shared tag, no tag field, another registry or a template) are listed with their reason.

Files are rewritten in memory first and written atomically only when every --set image is held by
some file. With --dry-run a unified diff goes to stdout and the summary to stderr, and nothing is
written. Exit codes: 0 when every image is held (changed or already at the value); 2 when an image
no file references (or only sites left alone) is named, nothing written; 1 when a file cannot be
rewritten (invalid YAML, ambiguous match, missing field, shared anchor), in which case that file is
left untouched.`,
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
			return runRewrite(cmd, a, files, ups, opts, o.dryRun, o.insert)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.sets, "set", nil, "REPOSITORY=TAG, REPOSITORY=@DIGEST or REPOSITORY=TAG@DIGEST (repeatable)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print a unified diff instead of writing")
	f.StringArrayVar(&o.sharedTags, "shared-tag", nil, "YAML path of a tag shared by several images that may be updated (repeatable)")
	f.StringVar(&o.kustomize, "kustomize-digest", "separate", "how kustomize images entries get a digest: separate (newTag + digest) or combined (newTag: TAG@DIGEST)")
	f.BoolVar(&o.markers, "markers-only", false, "only rewrite values carrying a $imagepolicy or automator marker")
	f.BoolVar(&o.insert, "insert", false, "add a kustomize images entry to the given kustomizations for an image no given file pins")
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

// fileRewrite is one file rewritten in memory.
type fileRewrite struct {
	file    string
	in, out []byte
	res     rewrite.Result
	err     error
}

// rewriteAll rewrites every file in memory; nothing is written.
func rewriteAll(files []string, ups []rewrite.Update, opts []rewrite.Option) []fileRewrite {
	out := make([]fileRewrite, len(files))
	for i, file := range files {
		r := fileRewrite{file: file}
		r.in, r.err = os.ReadFile(file)
		if r.err == nil {
			r.out, r.res, r.err = rewrite.Rewrite(file, r.in, ups, opts...)
		}
		out[i] = r
	}
	return out
}

// unapplied returns the updates no file holds now.
func unapplied(rs []fileRewrite, ups []rewrite.Update) []rewrite.Update {
	applied := map[string]bool{}
	for _, r := range rs {
		for _, repo := range r.res.Applied {
			applied[repo] = true
		}
	}
	var out []rewrite.Update
	for _, u := range ups {
		if !applied[u.Repository] {
			out = append(out, u)
		}
	}
	return out
}

func runRewrite(cmd *cobra.Command, a *app, files []string, ups []rewrite.Update, opts []rewrite.Option, dryRun, insert bool) error {
	out := cmd.OutOrStdout()
	summary := out
	if dryRun {
		summary = cmd.ErrOrStderr()
	}
	rs := rewriteAll(files, ups, opts)
	if missing := unapplied(rs, ups); insert && len(missing) > 0 {
		// Second pass: kustomize entries only for images no file pins.
		var repos []string
		for _, u := range missing {
			repos = append(repos, u.Repository)
		}
		rs = rewriteAll(files, ups, append(slices.Clip(opts), rewrite.WithInsert(repos...)))
	}
	var errs []error
	for _, r := range rs {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if missing := unapplied(rs, ups); len(errs) == 0 && len(missing) > 0 {
		for _, r := range rs {
			printRewriteSummary(summary, r.res, true)
		}
		return unknownImages(rs, missing, files)
	}
	changed := 0
	for _, r := range rs {
		err := r.err
		if err == nil && r.res.Changed() {
			if dryRun {
				_, err = io.WriteString(out, rewrite.UnifiedDiff("a/"+r.file, "b/"+r.file, r.in, r.out))
			} else {
				err = rewrite.WriteFile(cmd.Context(), r.file, r.out)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if err != nil {
			fmt.Fprintf(summary, "%s: error, left untouched: %v\n", r.file, err)
			continue
		}
		if r.res.Changed() {
			changed++
		}
		printRewriteSummary(summary, r.res, dryRun)
		if a.logger != nil {
			a.logger.Debug("rewrote manifest", zap.String("file", r.file), zap.Int("changes", len(r.res.Changes)), zap.Bool("dry_run", dryRun))
		}
	}
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	fmt.Fprintf(summary, "%d of %d files %s\n", changed, len(files), verb)
	return errors.Join(errs...)
}

// unknownImages is the exit-2 error for updates no file holds, naming the
// files searched and every site that nearly matched with its reason.
func unknownImages(rs []fileRewrite, missing []rewrite.Update, files []string) error {
	var msgs []string
	for _, u := range missing {
		m := fmt.Sprintf("--set %s: no file references image %s (searched %s)", u, u.Repository, strings.Join(files, ", "))
		var seen []string
		for _, r := range rs {
			for _, s := range r.res.Skipped {
				if s.Repository == u.Repository {
					seen = append(seen, fmt.Sprintf("%s:%d %s: %s", r.file, s.Line, s.Path, s.Reason))
				}
			}
		}
		if len(seen) > 0 {
			m += "; seen but left alone: " + strings.Join(seen, "; ")
		}
		msgs = append(msgs, m)
	}
	return usageErrorf("%s; nothing written", strings.Join(msgs, "\n"))
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
			old, nw := c.Old, c.New
			if old == "" {
				old = `""`
			}
			switch {
			case c.Removed:
				nw = "(field removed)"
			case nw == "":
				nw = `""`
			}
			fmt.Fprintf(w, "  line %d %s: %s → %s (%s)\n", c.Line, c.Path, old, nw, c.Repository)
		}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "  left alone: line %d %s (%s): %s\n", s.Line, s.Path, s.Repository, s.Reason)
	}
}
