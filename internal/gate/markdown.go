package gate

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteMarkdown writes the GitHub-flavoured markdown report for the job
// summary and the promotion PR body: a verdict table per environment with
// counts, the DB age, the deciding findings (ID, package, installed → fixed,
// severity) and the ignore evidence (accepted risks and expired entries).
func WriteMarkdown(w io.Writer, r *Report, verdicts []Verdict, now time.Time) error {
	ew := &errWriter{w: w}
	ew.printf("### Vulnerability gate: `%s`\n\n", mdEscape(r.Image.String()))
	ew.printf("Scanned with %s, DB %s", r.Scanner, r.DB.Describe(now))
	if r.Image.OS != "" {
		ew.printf(", OS %s", mdEscape(r.Image.OS))
	}
	ew.printf(". Found: %s.\n\n", countsLine(countAll(r.Findings)))

	ew.printf("| Environment | Verdict | %s | Ignored | Policy |\n", strings.Join(sevNames(), " | "))
	ew.printf("|---|---|%s---|---|\n", strings.Repeat("--:|", len(Severities)))
	for _, v := range verdicts {
		cols := make([]string, len(Severities))
		for i, s := range Severities {
			cols[i] = fmt.Sprint(v.Counts[s])
		}
		ew.printf("| %s | %s | %s | %d | %s |\n", mdEscape(envName(v)), outcomeBadge(v.Outcome),
			strings.Join(cols, " | "), len(v.Ignored), mdEscape(v.Policy))
	}
	for _, v := range verdicts {
		if !v.Failed() {
			continue
		}
		ew.printf("\n**%s %s**: %s\n\n", outcomeBadge(v.Outcome), mdEscape(envName(v)), mdEscape(strings.Join(v.Reasons, "; ")))
		writeFindingTable(ew, v.Deciding)
	}
	ignored, expired := ignoreEvidence(verdicts)
	if len(ignored) > 0 {
		ew.printf("\n<details><summary>Ignored findings (%d accepted risks)</summary>\n\n", len(ignored))
		ew.printf("| ID | Package | Installed | Statement | Entry |\n|---|---|---|---|---|\n")
		for _, ig := range ignored {
			ew.printf("| %s | %s | %s | %s | %s%s |\n", mdEscape(ig.Finding.ID), mdEscape(pkgLabel(ig.Finding)),
				mdEscape(ig.Finding.Installed), mdEscape(orDash(ig.Rule.Statement)), mdEscape(ig.Rule.Source), expiresNote(ig.Rule))
		}
		ew.printf("\n</details>\n")
	}
	if len(expired) > 0 {
		ew.printf("\n**Expired ignore entries** (no longer applied):\n\n")
		for _, e := range expired {
			ew.printf("- `%s` expired %s (%s), matches %d %s\n", mdEscape(e.Rule.ID), e.Rule.ExpiredAt.Format(time.DateOnly),
				mdEscape(e.Rule.Source), len(e.Findings), plural(len(e.Findings), "finding"))
		}
	}
	return ew.err
}

func writeFindingTable(ew *errWriter, fs []Finding) {
	ew.printf("| Severity | ID | Package | Installed → Fixed | Title |\n|---|---|---|---|---|\n")
	for i, f := range fs {
		if i == maxListed {
			ew.printf("\n… and %d more (see the JSON or SARIF report)\n", len(fs)-maxListed)
			break
		}
		id := mdEscape(f.ID)
		if f.URL != "" {
			id = fmt.Sprintf("[%s](%s)", id, f.URL)
		}
		ew.printf("| %s | %s | %s | %s | %s |\n", f.Severity, id, mdEscape(pkgLabel(f)), mdEscape(versionChange(f)), mdEscape(f.Title))
	}
}

func outcomeBadge(o Outcome) string {
	switch o {
	case Block:
		return "⛔ blocked"
	case Warn:
		return "⚠️ warning"
	default:
		return "✅ pass"
	}
}

// mdEscape keeps table cells intact: pipes and newlines would break the row.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}
