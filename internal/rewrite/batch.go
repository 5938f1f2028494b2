package rewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// UnheldError reports --set images that no file holds (no site, or only
// sites left alone); nothing was written. Callers treat it as bad input.
type UnheldError struct {
	// Messages name each image, the files searched and the sites that
	// nearly matched with their reason.
	Messages []string
}

func (e *UnheldError) Error() string { return strings.Join(e.Messages, "\n") + "; nothing written" }

// fileRewrite is one file rewritten in memory.
type fileRewrite struct {
	file    string
	in, out []byte
	res     Result
	err     error
}

// RewriteFiles rewrites every file in memory first and writes (atomically,
// each file) only when every update is held by some file; otherwise it
// returns an *UnheldError and writes nothing. With insert, a kustomization
// gets an images entry for an update no file pins. With dryRun a unified
// diff of each file goes to out and nothing is written. A summary of each
// file (its changes, what was left alone and why, or its error) and a total
// line go to summary. A file that fails is left untouched and the others are
// still rewritten; the error joins every failure. The results are those of
// the files that did not fail, in order.
func RewriteFiles(ctx context.Context, files []string, updates []Update, dryRun, insert bool, out, summary io.Writer, opts ...Option) ([]Result, error) {
	rs := rewriteAll(files, updates, opts)
	if missing := unapplied(rs, updates); insert && len(missing) > 0 {
		// Second pass: kustomize entries only for images no file pins.
		var repos []string
		for _, u := range missing {
			repos = append(repos, u.Repository)
		}
		rs = rewriteAll(files, updates, append(slices.Clip(opts), WithInsert(repos...)))
	}
	var errs []error
	for _, r := range rs {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if missing := unapplied(rs, updates); len(errs) == 0 && len(missing) > 0 {
		for _, r := range rs {
			printSummary(summary, r.res, true)
		}
		return nil, unheld(rs, missing, files)
	}
	var results []Result
	changed := 0
	for _, r := range rs {
		err := r.err
		if err == nil && r.res.Changed() {
			if dryRun {
				_, err = io.WriteString(out, UnifiedDiff("a/"+r.file, "b/"+r.file, r.in, r.out))
			} else {
				err = WriteFile(ctx, r.file, r.out)
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
		printSummary(summary, r.res, dryRun)
		results = append(results, r.res)
	}
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	fmt.Fprintf(summary, "%d of %d files %s\n", changed, len(files), verb)
	return results, errors.Join(errs...)
}

// rewriteAll rewrites every file in memory; nothing is written.
func rewriteAll(files []string, ups []Update, opts []Option) []fileRewrite {
	out := make([]fileRewrite, len(files))
	for i, file := range files {
		r := fileRewrite{file: file}
		r.in, r.err = os.ReadFile(file)
		if r.err == nil {
			r.out, r.res, r.err = Rewrite(file, r.in, ups, opts...)
		}
		out[i] = r
	}
	return out
}

// unapplied returns the updates no file holds now.
func unapplied(rs []fileRewrite, ups []Update) []Update {
	applied := map[string]bool{}
	for _, r := range rs {
		for _, repo := range r.res.Applied {
			applied[repo] = true
		}
	}
	var out []Update
	for _, u := range ups {
		if !applied[u.Repository] {
			out = append(out, u)
		}
	}
	return out
}

// unheld names, for updates no file holds, the files searched and every
// site that nearly matched with its reason.
func unheld(rs []fileRewrite, missing []Update, files []string) error {
	e := &UnheldError{}
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
		e.Messages = append(e.Messages, m)
	}
	return e
}

func printSummary(w io.Writer, res Result, dryRun bool) {
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
