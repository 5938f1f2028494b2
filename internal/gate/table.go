package gate

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// maxListed caps the findings listed per verdict in the compact reports; the
// JSON and SARIF reports always carry all of them.
const maxListed = 20

// WriteTable writes the compact plain-text report meant for logs: the image,
// the DB age, one line per environment with its outcome and counts, then the
// deciding findings of each failed verdict, ignored findings and expired
// ignore entries.
func WriteTable(w io.Writer, r *Report, verdicts []Verdict, now time.Time) error {
	ew := &errWriter{w: w}
	ew.printf("Image:   %s\n", r.Image)
	if r.Image.OS != "" {
		ew.printf("OS:      %s\n", r.Image.OS)
	}
	ew.printf("DB:      %s\n", r.DB.Describe(now))
	ew.printf("Found:   %s\n\n", countsLine(countAll(r.Findings)))

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ENV\tVERDICT\t%s\tIGNORED\tPOLICY\n", strings.Join(sevNames(), "\t"))
	for _, v := range verdicts {
		cols := make([]string, len(Severities))
		for i, s := range Severities {
			cols[i] = fmt.Sprint(v.Counts[s])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", envName(v), strings.ToUpper(string(v.Outcome)), strings.Join(cols, "\t"), len(v.Ignored), v.Policy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range verdicts {
		if !v.Failed() {
			continue
		}
		ew.printf("\n%s %s: %s\n", strings.ToUpper(string(v.Outcome)), envName(v), strings.Join(v.Reasons, "; "))
		writeFindingLines(ew, v.Deciding)
	}
	writeIgnoreLines(ew, verdicts)
	return ew.err
}

func writeFindingLines(ew *errWriter, fs []Finding) {
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for i, f := range fs {
		if i == maxListed {
			fmt.Fprintf(tw, "  … and %d more\n", len(fs)-maxListed)
			break
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Severity, f.ID, pkgLabel(f), versionChange(f), f.Title)
	}
	if err := tw.Flush(); err != nil && ew.err == nil {
		ew.err = err
	}
}

// writeIgnoreLines lists ignore rules once even when several verdicts share them.
func writeIgnoreLines(ew *errWriter, verdicts []Verdict) {
	ignored, expired := ignoreEvidence(verdicts)
	if len(ignored) > 0 {
		ew.printf("\nIgnored (accepted risks):\n")
		for _, ig := range ignored {
			ew.printf("  %s %s %s — %s (%s%s)\n", ig.Finding.ID, pkgLabel(ig.Finding), ig.Finding.Installed,
				orDash(ig.Rule.Statement), ig.Rule.Source, expiresNote(ig.Rule))
		}
	}
	if len(expired) > 0 {
		ew.printf("\nExpired ignore entries (no longer applied):\n")
		for _, e := range expired {
			ew.printf("  %s expired %s (%s) — matches %d %s\n", e.Rule.ID, e.Rule.ExpiredAt.Format(time.DateOnly),
				e.Rule.Source, len(e.Findings), plural(len(e.Findings), "finding"))
		}
	}
}

// ignoreEvidence merges the ignored findings and expired rules of all
// verdicts, each listed once in first-seen order.
func ignoreEvidence(verdicts []Verdict) ([]IgnoredFinding, []ExpiredIgnore) {
	var ignored []IgnoredFinding
	var expired []ExpiredIgnore
	seenF, seenR := map[string]bool{}, map[string]bool{}
	for _, v := range verdicts {
		for _, ig := range v.Ignored {
			if k := ig.Finding.key(); !seenF[k] {
				seenF[k] = true
				ignored = append(ignored, ig)
			}
		}
		for _, e := range v.Expired {
			if !seenR[e.Rule.Source] {
				seenR[e.Rule.Source] = true
				expired = append(expired, e)
			}
		}
	}
	return ignored, expired
}

func expiresNote(r IgnoreRule) string {
	if r.ExpiredAt.IsZero() {
		return ""
	}
	return ", expires " + r.ExpiredAt.Format(time.DateOnly)
}

func countAll(fs []Finding) Counts {
	c := Counts{}
	for _, f := range fs {
		sev := f.Severity
		if sev == "" {
			sev = SeverityUnknown
		}
		c[sev]++
	}
	return c
}

func countsLine(c Counts) string {
	parts := make([]string, len(Severities))
	for i, s := range Severities {
		parts[i] = fmt.Sprintf("%s %d", s, c[s])
	}
	return strings.Join(parts, ", ")
}

func sevNames() []string {
	out := make([]string, len(Severities))
	for i, s := range Severities {
		out[i] = string(s)
	}
	return out
}

func envName(v Verdict) string {
	if v.Env == "" {
		return "(policy)"
	}
	return v.Env
}

func pkgLabel(f Finding) string {
	if f.Path != "" {
		return f.Package + " (" + f.Path + ")"
	}
	return f.Package
}

func versionChange(f Finding) string {
	fixed := f.Fixed
	if fixed == "" {
		fixed = "no fix"
	}
	return f.Installed + " → " + fixed
}

func orDash(s string) string {
	if s == "" {
		return "no statement"
	}
	return s
}

// errWriter remembers the first write error so report writers can print
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
