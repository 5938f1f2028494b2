package gitops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/deployment-automator/automator/internal/rewrite"
)

// blockStart and blockEnd delimit the machine-readable pending updates in
// pull request bodies and pull request branch commit messages.
const (
	blockStart = "<!-- automator:pending"
	blockEnd   = "-->"
)

type pendingBlock struct {
	Version int    `json:"version"`
	Env     string `json:"env"`
	// Base is the base branch commit the branch was generated from.
	Base    string   `json:"base,omitempty"`
	Updates []Update `json:"updates"`
}

func encodeBlock(env, base string, updates []Update) string {
	b, _ := json.Marshal(pendingBlock{Version: 1, Env: env, Base: base, Updates: updates}) // plain structs: cannot fail
	// "--" never appears in JSON of our data except inside strings; escape it
	// so the HTML comment cannot end early.
	s := strings.ReplaceAll(string(b), "--", `\u002d\u002d`)
	return blockStart + "\n" + s + "\n" + blockEnd
}

// decodeBlock returns the pending updates of a body or commit message, or nil
// when it has none (a PR edited by hand keeps working: it is regenerated).
func decodeBlock(text string) pendingBlock {
	i := strings.Index(text, blockStart)
	if i < 0 {
		return pendingBlock{}
	}
	rest := text[i+len(blockStart):]
	j := strings.Index(rest, blockEnd)
	if j < 0 {
		return pendingBlock{}
	}
	var pb pendingBlock
	if err := json.Unmarshal([]byte(strings.TrimSpace(rest[:j])), &pb); err != nil || pb.Version != 1 {
		return pendingBlock{}
	}
	return pb
}

// Links builds web links to the app repository's commits.
type Links struct {
	// ServerURL is the GitHub web base URL ($GITHUB_SERVER_URL).
	ServerURL string
}

func (l Links) source(s *Source) string {
	if s == nil || s.To == "" {
		return ""
	}
	base := strings.TrimRight(l.ServerURL, "/") + "/" + s.Repo
	if s.From != "" && s.From != s.To {
		return fmt.Sprintf("[%s@%s...%s](%s/compare/%s...%s)", s.Repo, short(s.From), short(s.To), base, s.From, s.To)
	}
	return fmt.Sprintf("[%s@%s](%s/commit/%s)", s.Repo, short(s.To), base, s.To)
}

func (l Links) sourceURL(s *Source) string {
	if s == nil || s.To == "" {
		return ""
	}
	base := strings.TrimRight(l.ServerURL, "/") + "/" + s.Repo
	if s.From != "" && s.From != s.To {
		return base + "/compare/" + s.From + "..." + s.To
	}
	return base + "/commit/" + s.To
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// title renders the environment's title template.
func title(req Request, updates []Update) (string, error) {
	if req.Title != "" {
		return req.Title, nil
	}
	tmpl := req.Env.PullRequest.TitleTemplate
	if tmpl == "" {
		tmpl = "Promote {{ .Services }} to {{ .Env }}"
	}
	t, err := template.New("title").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("environment %q: pullRequest.titleTemplate: %w", req.Env.Name, err)
	}
	names := make([]string, len(updates))
	for i, u := range updates {
		names[i] = u.Service
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Env, Services string }{req.Env.Name, strings.Join(names, ", ")}); err != nil {
		return "", fmt.Errorf("environment %q: pullRequest.titleTemplate: %w", req.Env.Name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// tagChange returns the old and new tag a file change set shows for repo.
func tagChange(eds []edited, repo string) (old, new string) {
	for _, e := range eds {
		for _, c := range e.Changes {
			if c.Repository != repo {
				continue
			}
			switch c.Field {
			case "tag":
				o, _, _ := strings.Cut(c.Old, "@")
				n, _, _ := strings.Cut(c.New, "@")
				return o, n
			case "ref":
				_, o, _ := splitImageRef(c.Old)
				_, n, _ := splitImageRef(c.New)
				return o, n
			}
		}
	}
	return "", ""
}

func verdict(s *ScanSummary) string {
	if s == nil {
		return "not scanned"
	}
	sev := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
	var parts []string
	for _, k := range sev {
		if n := s.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", strings.ToLower(k[:1])+strings.ToLower(k[1:]), n))
		}
	}
	icon := map[string]string{"pass": "✅", "warn": "⚠️", "fail": "⛔"}[s.Verdict]
	out := strings.TrimSpace(icon + " " + s.Verdict)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	} else if s.Verdict != "skipped" {
		out += " (no findings)"
	}
	return out
}

func renderTable(b *strings.Builder, updates []Update, eds []edited, links Links) {
	b.WriteString("| Service | Tag | Digest | Scan | Source |\n|---|---|---|---|---|\n")
	for _, u := range updates {
		o, n := tagChange(eds, u.Repository)
		tag := "—"
		switch {
		case n != "" && o != "" && o != n:
			tag = fmt.Sprintf("`%s` → `%s`", o, n)
		case n != "":
			tag = "`" + n + "`"
		case u.Tag != "":
			tag = "`" + u.Tag + "`"
		}
		src := links.source(u.Source)
		if u.PromotedFrom != "" {
			src = strings.TrimSpace(src + " from " + u.PromotedFrom)
		}
		fmt.Fprintf(b, "| **%s** | %s | `%s` | %s | %s |\n", u.Service, tag, shortDigest(u.Digest), verdict(u.Scan), firstNonEmpty(src, "—"))
	}
}

func renderBlocked(b *strings.Builder, blocked []Blocked) {
	if len(blocked) == 0 {
		return
	}
	b.WriteString("\n### Blocked by the vulnerability gate\n\n")
	for _, bl := range blocked {
		fmt.Fprintf(b, "- **%s** `%s`: %s\n", bl.Service, bl.Image, verdict(&bl.Scan))
		for _, f := range bl.Scan.Blocking {
			fix := "no fix"
			if f.Fixed != "" {
				fix = "fixed in " + f.Fixed
			}
			fmt.Fprintf(b, "  - %s (%s) %s %s, %s\n", f.ID, f.Severity, f.Package, f.Installed, fix)
		}
	}
}

func renderDropped(b *strings.Builder, dropped []Dropped) {
	if len(dropped) == 0 {
		return
	}
	b.WriteString("\n### Not carried over\n\nThese updates were pending from earlier runs but could not be verified again, so they were dropped:\n\n")
	for _, d := range dropped {
		fmt.Fprintf(b, "- **%s** `%s`: %s\n", d.Update.Service, d.Update.Ref(), d.Reason)
	}
}

func renderFiles(b *strings.Builder, eds []edited) {
	b.WriteString("\n<details><summary>Changed values</summary>\n\n")
	for _, e := range eds {
		changes := append([]rewrite.Change(nil), e.Changes...)
		sort.Slice(changes, func(i, j int) bool { return changes[i].Line < changes[j].Line })
		for _, c := range changes {
			fmt.Fprintf(b, "- `%s:%d` `%s`: `%s` → `%s`\n", e.Path, c.Line, c.Path, c.Old, c.New)
		}
	}
	b.WriteString("\n</details>\n")
}

// body renders the pull request body: summary, table, blocked images,
// changed values and the machine-readable block of pending updates.
func body(req Request, branch, base string, updates []Update, eds []edited, dropped []Dropped, links Links) string {
	var b strings.Builder
	if req.Note != "" {
		b.WriteString(req.Note + "\n\n")
	}
	fmt.Fprintf(&b, "Promotes %d image(s) to **%s** (`%s`, branch `%s`).\n\n", len(updates), req.Env.Name, req.Env.Repo, branch)
	renderTable(&b, updates, eds, links)
	renderBlocked(&b, req.Blocked)
	renderDropped(&b, dropped)
	renderFiles(&b, eds)
	b.WriteString("\nThis pull request is maintained by automator: re-runs update it in place. Merge it to promote.\n\n")
	b.WriteString(encodeBlock(req.Env.Name, base, updates))
	b.WriteString("\n")
	return b.String()
}

// commitMessage renders the commit message: subject, one line per service,
// blocked images, and trailers that make history machine-readable. withBlock
// embeds the pending block (pull request branches, whose head commit is the
// race-free record of what the PR carries).
func commitMessage(subject string, req Request, updates []Update, links Links, blockBase string, withBlock bool) string {
	var b strings.Builder
	b.WriteString(subject + "\n\n")
	for _, u := range updates {
		fmt.Fprintf(&b, "- %s: %s (scan: %s)", u.Service, u.Ref(), verdict(u.Scan))
		if s := links.sourceURL(u.Source); s != "" {
			fmt.Fprintf(&b, "\n  source: %s", s)
		}
		b.WriteString("\n")
	}
	for _, bl := range req.Blocked {
		fmt.Fprintf(&b, "- %s: %s BLOCKED by the gate (%s)\n", bl.Service, bl.Image, verdict(&bl.Scan))
	}
	if withBlock {
		b.WriteString("\n" + encodeBlock(req.Env.Name, blockBase, updates) + "\n")
	}
	b.WriteString("\n")
	for _, u := range updates {
		fmt.Fprintf(&b, "Automator-Service: %s\n", u.Service)
		if u.Digest != "" {
			fmt.Fprintf(&b, "Automator-Digest: %s\n", u.Digest)
		}
		if s := links.sourceURL(u.Source); s != "" {
			fmt.Fprintf(&b, "Automator-Source: %s\n", s)
		}
	}
	fmt.Fprintf(&b, "Automator-Environment: %s\n", req.Env.Name)
	return b.String()
}
