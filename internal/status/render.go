package status

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Format names an output format of the matrix.
type Format string

// The formats Render writes.
const (
	Table    Format = "table"
	JSON     Format = "json"
	Markdown Format = "markdown"
	HTML     Format = "html"
)

// Formats lists the formats, for flag help and validation.
var Formats = []Format{Table, JSON, Markdown, HTML}

// FormatError is an unknown format name (a usage error for the CLI).
type FormatError struct{ Name string }

func (e *FormatError) Error() string {
	return fmt.Sprintf("unknown status format %q (want table, json, markdown or html)", e.Name)
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", &FormatError{Name: s}
}

// Render writes m in format f. Ages are computed against m.Generated, so
// the same matrix always renders the same bytes.
func Render(w io.Writer, m *Matrix, f Format) error {
	switch f {
	case JSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	case Markdown:
		_, err := io.WriteString(w, RenderMarkdown(m))
		return err
	case HTML:
		return renderHTML(w, m)
	case Table, "":
		return renderTable(w, m)
	}
	return &FormatError{Name: string(f)}
}

// RenderTo renders m in format f to the file at path (created or
// truncated), or to out when path is empty; a failed write or close of the
// file is an error.
func RenderTo(out io.Writer, path string, m *Matrix, f Format) error {
	if path == "" {
		return Render(out, m, f)
	}
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing status to %s: %w", path, err)
	}
	if err := Render(file, m, f); err != nil {
		file.Close()
		return fmt.Errorf("writing status to %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("writing status to %s: %w", path, err)
	}
	return nil
}

// cells are a row's display values, shared by every human format.
type cells struct {
	Env, Service, Tag, Digest, Since, SinceURL, How, Scan, PR, PRURL, Drift, Hold string
	Drifted                                                                       bool
}

func (m *Matrix) cells(r Row) cells {
	c := cells{Env: r.Env, Service: r.Service, Tag: orDash(r.Tag), Digest: orDash(shortDigest(r.Digest)),
		How: string(r.How), Scan: orDash(r.Scan), PR: "—", Drift: "—", Hold: orDash(r.Hold), Drifted: r.Drift}
	c.Since = "—"
	if r.Since != nil {
		c.Since = fmt.Sprintf("%s (%s ago)", shortSHA(r.Since.Commit), ago(r.Age(m.Generated)))
		c.SinceURL = r.Since.URL
	}
	switch r.How {
	case HowPromotion:
		c.How = "promoted from " + r.From
	case HowRollback:
		c.How = "rollback to " + shortSHA(r.From)
	}
	if r.PR != nil {
		name := r.PR.Branch
		if r.PR.Number != 0 {
			name = fmt.Sprintf("#%d", r.PR.Number)
		}
		c.PR = fmt.Sprintf("%s (%s old)", name, ago(m.Generated.Sub(r.PR.Opened)))
		c.PRURL = r.PR.URL
	}
	if r.Drift {
		n := fmt.Sprint(r.Behind)
		if r.BehindAtLeast {
			n = "≥" + n
		}
		c.Drift = fmt.Sprintf("behind %s by %s", r.Upstream, n)
	} else if r.Upstream != "" {
		c.Drift = "in sync with " + r.Upstream
	}
	return c
}

var header = []string{"ENV", "SERVICE", "TAG", "DIGEST", "SINCE", "HOW", "SCAN", "PR", "DRIFT"}

func (c cells) list(holds bool) []string {
	out := []string{c.Env, c.Service, c.Tag, c.Digest, c.Since, c.How, c.Scan, c.PR, c.Drift}
	if holds {
		out = append(out, c.Hold)
	}
	return out
}

func columns(holds bool) []string {
	if holds {
		return append(append([]string(nil), header...), "HOLD")
	}
	return header
}

func renderTable(w io.Writer, m *Matrix) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	holds := m.HasHolds()
	fmt.Fprintln(tw, strings.Join(columns(holds), "\t"))
	for _, r := range m.Rows {
		fmt.Fprintln(tw, strings.Join(m.cells(r).list(holds), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range m.Problems {
		if _, err := fmt.Fprintf(w, "problem: %s: %s\n", orDash(p.Env), p.Error); err != nil {
			return err
		}
	}
	return nil
}

// RenderMarkdown is the matrix as a Markdown table (the job summary):
// cells are escaped so that no value can break the table or inject markup.
func RenderMarkdown(m *Matrix) string {
	var b strings.Builder
	b.WriteString("### What runs where\n\n")
	holds := m.HasHolds()
	cols := columns(holds)
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|" + strings.Repeat("---|", len(cols)) + "\n")
	for _, r := range m.Rows {
		c := m.cells(r)
		vals := c.list(holds)
		for i, v := range vals {
			vals[i] = mdEscape(v)
		}
		vals[4] = mdLink(vals[4], c.SinceURL)
		vals[7] = mdLink(vals[7], c.PRURL)
		if c.Drifted {
			vals[8] = "**" + vals[8] + "**"
		}
		b.WriteString("| " + strings.Join(vals, " | ") + " |\n")
	}
	for _, p := range m.Problems {
		fmt.Fprintf(&b, "\n> **Problem** %s: %s\n", mdEscape(orDash(p.Env)), mdEscape(p.Error))
	}
	fmt.Fprintf(&b, "\n_Read %s._\n", m.Generated.Format(time.RFC3339))
	return b.String()
}

// mdEscape escapes what GitHub Markdown would interpret in a table cell.
func mdEscape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "|", "\\|", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;",
		"[", "\\[", "]", "\\]", "*", "\\*", "_", "\\_", "`", "\\`")
	return r.Replace(s)
}

// mdLink links text to an http(s) URL kept inside its parentheses; any
// other URL (javascript:, data:) leaves the text unlinked.
func mdLink(text, url string) string {
	if url == "" || safeURL(url) == "#" {
		return text
	}
	return "[" + text + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "[", "%5B", "]", "%5D", "<", "%3C", ">", "%3E").Replace(safeURL(url)) + ")"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// ago renders a duration the way people read ages: the largest unit.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
