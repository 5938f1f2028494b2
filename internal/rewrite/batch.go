package rewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// RewriteFiles rewrites each file in place (RewriteFile) or, with dryRun,
// writes a unified diff of each to out and changes nothing. A summary of
// each file (its changes, what was skipped, or its error) and a total line
// go to summary. A file that fails is left untouched and the others are
// still rewritten; the error joins every failure. The results are those of
// the files that did not fail, in order.
func RewriteFiles(ctx context.Context, files []string, updates []Update, dryRun bool, out, summary io.Writer, opts ...Option) ([]Result, error) {
	var errs []error
	var results []Result
	changed := 0
	for _, file := range files {
		res, err := rewriteOne(ctx, file, updates, dryRun, out, opts)
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(summary, "%s: error, left untouched: %v\n", file, err)
			continue
		}
		if res.Changed() {
			changed++
		}
		printSummary(summary, res, dryRun)
		results = append(results, res)
	}
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	fmt.Fprintf(summary, "%d of %d files %s\n", changed, len(files), verb)
	return results, errors.Join(errs...)
}

func rewriteOne(ctx context.Context, file string, updates []Update, dryRun bool, out io.Writer, opts []Option) (Result, error) {
	if !dryRun {
		return RewriteFile(ctx, file, updates, opts...)
	}
	in, err := os.ReadFile(file)
	if err != nil {
		return Result{}, err
	}
	next, res, err := Rewrite(file, in, updates, opts...)
	if err != nil {
		return Result{}, err
	}
	_, err = io.WriteString(out, UnifiedDiff("a/"+file, "b/"+file, in, next))
	return res, err
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
