package gitops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

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
	// Files names (path → blob) the files besides the environment's that
	// the branch's commit wrote (Request.Edits, e.g. the holds file).
	Files map[string]string `json:"files,omitempty"`
}

func encodeBlock(env, base string, updates []Update, files map[string]string) string {
	b, _ := json.Marshal(pendingBlock{Version: 1, Env: env, Base: base, Updates: updates, Files: files}) // plain structs: cannot fail
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

// GitHub's limits on the text a write-back sends, and ours on what we write
// into commit messages and job summaries.
const (
	// MaxTitle is GitHub's limit on a pull request title, in characters.
	MaxTitle = 256
	// MaxBody is GitHub's limit on a pull request body or a comment, in
	// characters.
	MaxBody = 65536
	// MaxJobSummary is GitHub Actions' limit on one step's job summary
	// ($GITHUB_STEP_SUMMARY), in bytes.
	MaxJobSummary = 1 << 20
	// messageList is how many services a commit message names line by line
	// (and in trailers) before it counts the rest; the pending record it
	// carries always lists every update.
	messageList = 100
)

// title renders the environment's title template within MaxTitle: past it,
// the services are named up to what fits and counted ("a, b and 498 more").
func title(req Request, updates []Update) (string, error) {
	if req.Title != "" {
		return capRunes(req.Title, MaxTitle), nil
	}
	tmpl := req.Env.PullRequest.TitleTemplate
	if tmpl == "" {
		tmpl = "Promote {{ .Services }} to {{ .Env }}"
	}
	t, err := template.New("title").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("environment %q: pullRequest.titleTemplate: %w", req.Env.Name, err)
	}
	render := func(services string) (string, error) {
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ Env, Services string }{req.Env.Name, services}); err != nil {
			return "", fmt.Errorf("environment %q: pullRequest.titleTemplate: %w", req.Env.Name, err)
		}
		return strings.TrimSpace(b.String()), nil
	}
	names := make([]string, len(updates))
	for i, u := range updates {
		names[i] = u.Service
	}
	out, err := render(strings.Join(names, ", "))
	if err != nil || utf8.RuneCountInString(out) <= MaxTitle {
		return out, err
	}
	// Name as many services as fit, then count the rest.
	frame, err := render("")
	if err != nil {
		return "", err
	}
	room := MaxTitle - utf8.RuneCountInString(frame)
	k, used := 0, 0
	for k < len(names) {
		more := fmt.Sprintf(" and %d more", len(names)-k-1)
		add := utf8.RuneCountInString(names[k])
		if k > 0 {
			add += 2
		}
		if used+add+len(more) > room {
			break
		}
		used += add
		k++
	}
	services := fmt.Sprintf("%d services", len(names))
	if k > 0 {
		services = fmt.Sprintf("%s and %d more", strings.Join(names[:k], ", "), len(names)-k)
	}
	out, err = render(services)
	return capRunes(out, MaxTitle), err
}

// capRunes cuts s to at most n characters, ending in "…" when cut.
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// CapMarkdown returns md when it is at most limit bytes (bytes bound
// GitHub's character limits too). Otherwise it keeps the longest run of
// whole lines that fits together with note, closes a <details> block or a
// code fence left open by the cut, and ends with note — which should say
// what was left out and where to find it. Callers collapse details into
// counts and links first; this is the guarantee behind them.
func CapMarkdown(md string, limit int, note string) string {
	if len(md) <= limit {
		return md
	}
	const closers = "\n```\n</details>\n"
	budget := limit - len(note) - len(closers) - 2
	if budget <= 0 {
		return note[:min(len(note), limit)]
	}
	cut := md[:budget]
	if i := strings.LastIndexByte(cut, '\n'); i >= 0 {
		cut = cut[:i+1]
	} else {
		cut = ""
	}
	for !utf8.ValidString(cut) { // never split a character
		cut = cut[:len(cut)-1]
	}
	var b strings.Builder
	b.WriteString(cut)
	if strings.Count(cut, "```")%2 == 1 {
		b.WriteString("```\n")
	}
	if strings.Count(cut, "<details>") > strings.Count(cut, "</details>") {
		b.WriteString("\n</details>\n")
	}
	b.WriteString("\n" + note)
	return b.String()
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
	if s.Evidence != nil && s.Evidence.Problem != "" && len(parts) == 0 {
		return "⛔ unverified: " + capRunes(s.Evidence.Problem, 300)
	}
	icon := map[string]string{"pass": "✅", "warn": "⚠️", "fail": "⛔"}[s.Verdict]
	out := strings.TrimSpace(icon + " " + s.Verdict)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	} else if s.Verdict != "skipped" {
		out += " (no findings)"
	}
	return out + evidenceNote(s.Evidence)
}

// evidenceNote renders an image's verified evidence (short digests) or why
// verification failed, after its scan verdict.
func evidenceNote(e *Evidence) string {
	switch {
	case e == nil:
		return ""
	case e.Problem != "":
		return "; ⛔ unverified: " + capRunes(e.Problem, 300)
	}
	out := "; 🔏 signed `" + shortDigest(e.Signature) + "`"
	for _, a := range e.Attestations {
		out += ", " + a.Type + " `" + shortDigest(a.Digest) + "`"
	}
	return out
}

func renderTable(b *strings.Builder, updates []Update, eds []edited, links Links, rows int) {
	b.WriteString("| Service | Tag | Digest | Scan | Source |\n|---|---|---|---|---|\n")
	for i, u := range updates {
		if i == rows {
			fmt.Fprintf(b, "\n…and %d more services (%s); every one is in the changes of this pull request and in its head commit's message.\n", len(updates)-rows, verdictTally(updates[rows:]))
			break
		}
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

// renderBlocked lists the blocked images, with their blocking findings
// when findings is true, and names at most rows of them.
func renderBlocked(b *strings.Builder, blocked []Blocked, findings bool, rows int) {
	if len(blocked) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Blocked by the vulnerability gate (%d)\n\n", len(blocked))
	for i, bl := range blocked {
		if i == rows {
			var names []string
			for _, o := range blocked[rows:] {
				names = append(names, o.Service)
			}
			fmt.Fprintf(b, "- …and %d more: %s\n", len(blocked)-rows, capRunes(strings.Join(names, ", "), 4000))
			break
		}
		fmt.Fprintf(b, "- **%s** `%s`: %s\n", bl.Service, bl.Image, verdict(&bl.Scan))
		if !findings {
			continue
		}
		for _, f := range bl.Scan.Blocking {
			fix := "no fix"
			if f.Fixed != "" {
				fix = "fixed in " + f.Fixed
			}
			fmt.Fprintf(b, "  - %s (%s) %s %s, %s\n", f.ID, f.Severity, f.Package, f.Installed, fix)
		}
	}
}

func renderDropped(b *strings.Builder, dropped []Dropped, rows int) {
	renderCapped(b, "Not carried over", "These updates were pending from earlier runs but could not be verified again, so they were dropped:\n\n",
		len(dropped), rows, func(i int) string {
			d := dropped[i]
			return fmt.Sprintf("**%s** `%s`: %s", d.Update.Service, d.Update.Ref(), capRunes(d.Reason, 300))
		})
}

// renderCapped writes a "### heading (n)" section, intro, and a list item
// per entry (item(i)), naming at most rows of them.
func renderCapped(b *strings.Builder, heading, intro string, n, rows int, item func(i int) string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "\n### %s (%d)\n\n%s", heading, n, intro)
	for i := range n {
		if i == rows {
			fmt.Fprintf(b, "- …and %d more\n", n-rows)
			break
		}
		b.WriteString("- " + item(i) + "\n")
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

// verdictTally counts updates per scan verdict ("498 pass, 2 warn").
func verdictTally(us []Update) string {
	n := map[string]int{}
	for _, u := range us {
		v := "not scanned"
		if u.Scan != nil {
			v = u.Scan.Verdict
		}
		n[v]++
	}
	var parts []string
	for _, v := range []string{"pass", "warn", "fail", "skipped", "not scanned"} {
		if n[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[v], v))
		}
	}
	return strings.Join(parts, ", ")
}

// bodyText is what a pull request body shows besides the request.
type bodyText struct {
	branch, base string
	updates      []Update
	eds          []edited
	dropped      []Dropped
	links        Links
	// compare links the pull request's changes ("" without a web view).
	compare string
	// files are the edited files besides the environment's (path → blob).
	files map[string]string
}

// body renders the pull request body within MaxBody: summary, table,
// blocked images, dropped updates, changed values and, informational only
// (state is read from the head commit, never from here), the pending block.
// Past the limit, details collapse step by step into counts and links —
// first the block and the changed values, then findings and table rows — so
// the reader still sees what changes and what was blocked.
func body(req Request, bt bodyText) string {
	var out string
	for level := range 4 {
		out = renderBody(req, bt, level)
		if len(out) <= MaxBody {
			return out
		}
	}
	return CapMarkdown(out, MaxBody, "…cut to GitHub's size limit; every change is in this pull request's files and its head commit's message.\n")
}

func renderBody(req Request, bt bodyText, level int) string {
	var b strings.Builder
	if req.Note != "" {
		b.WriteString(capRunes(req.Note, 4000) + "\n\n")
	}
	values := 0
	for _, e := range bt.eds {
		values += len(e.Changes)
	}
	fmt.Fprintf(&b, "Promotes %d image(s) to **%s** (`%s`, branch `%s`): %d value(s) in %d file(s).\n\n", len(bt.updates), req.Env.Name, req.Env.Repo, bt.branch, values, len(bt.eds))
	rows := []int{len(bt.updates), len(bt.updates), 100, 20}[level]
	renderTable(&b, bt.updates, bt.eds, bt.links, rows)
	blockedRows := []int{len(req.Blocked), len(req.Blocked), 100, 20}[level]
	renderBlocked(&b, req.Blocked, level < 2, blockedRows)
	renderDropped(&b, bt.dropped, []int{len(bt.dropped), len(bt.dropped), 100, 20}[level])
	renderHeld(&b, req.Held, []int{len(req.Held), len(req.Held), 100, 20}[level])
	if f := req.Freeze; f != nil {
		fmt.Fprintf(&b, "\n### ❄️ Freeze window\n\n**%s** is in a freeze window until %s%s: do not merge before then (commit status `%s`).\n",
			req.Env.Name, f.Until.UTC().Format(time.RFC3339), reasonSuffix(f.Reason), FreezeStatus)
	}
	if level == 0 {
		renderFiles(&b, bt.eds)
	} else {
		see := "the files of this pull request"
		if bt.compare != "" {
			see = "[the changes](" + bt.compare + ")"
		}
		fmt.Fprintf(&b, "\nChanged values: %d in %d file(s); see %s.\n", values, len(bt.eds), see)
	}
	b.WriteString("\nThis pull request is maintained by automator: re-runs update it in place. Merge it to promote.\n\n")
	if level == 0 {
		b.WriteString(encodeBlock(req.Env.Name, bt.base, bt.updates, bt.files))
		b.WriteString("\n")
	} else {
		b.WriteString("The machine-readable record of every pending update is in the head commit's message.\n")
	}
	return b.String()
}

// commitMessage renders the commit message: subject, one line per service,
// blocked images, and trailers that make history machine-readable. withBlock
// embeds the pending block (pull request branches, whose head commit is the
// race-free record of what the PR carries).
func commitMessage(subject string, req Request, updates []Update, links Links, blockBase string, files map[string]string, withBlock bool) string {
	var b strings.Builder
	b.WriteString(subject + "\n\n")
	for i, u := range updates {
		if i == messageList {
			fmt.Fprintf(&b, "- …and %d more services (%s)\n", len(updates)-messageList, verdictTally(updates[messageList:]))
			break
		}
		fmt.Fprintf(&b, "- %s: %s (scan: %s)", u.Service, u.Ref(), verdict(u.Scan))
		if s := links.sourceURL(u.Source); s != "" {
			fmt.Fprintf(&b, "\n  source: %s", s)
		}
		b.WriteString("\n")
	}
	for i, bl := range req.Blocked {
		if i == messageList {
			fmt.Fprintf(&b, "- …and %d more images BLOCKED by the gate\n", len(req.Blocked)-messageList)
			break
		}
		fmt.Fprintf(&b, "- %s: %s BLOCKED by the gate (%s)\n", bl.Service, bl.Image, verdict(&bl.Scan))
	}
	if withBlock {
		// The record is whole whatever its size: it is the state later
		// runs carry over.
		b.WriteString("\n" + encodeBlock(req.Env.Name, blockBase, updates, files) + "\n")
	}
	for i, h := range req.Held {
		if i == messageList {
			fmt.Fprintf(&b, "- …and %d more services HELD\n", len(req.Held)-messageList)
			break
		}
		fmt.Fprintf(&b, "- %s: HELD, not promoted (%s)\n", h.Service, oneLine(h.Reason))
	}
	b.WriteString("\n")
	for i, u := range updates {
		if i == messageList {
			fmt.Fprintf(&b, "Automator-More-Services: %d\n", len(updates)-messageList)
			break
		}
		fmt.Fprintf(&b, "Automator-Service: %s\n", u.Service)
		if u.Digest != "" {
			fmt.Fprintf(&b, "Automator-Digest: %s\n", u.Digest)
		}
		if e := evidenceOf(u); e != nil && e.Signature != "" {
			fmt.Fprintf(&b, "Automator-Signature: %s\n", e.Signature)
			for _, a := range e.Attestations {
				fmt.Fprintf(&b, "Automator-Attestation: %s %s\n", a.Type, a.Digest)
			}
		}
		if s := links.sourceURL(u.Source); s != "" {
			fmt.Fprintf(&b, "Automator-Source: %s\n", s)
		}
		if u.Scan != nil {
			fmt.Fprintf(&b, "Automator-Scan: %s\n", u.Scan.Verdict)
		}
		if u.PromotedFrom != "" {
			fmt.Fprintf(&b, "Automator-Promoted-From: %s\n", u.PromotedFrom)
		}
	}
	if req.RollbackTo != "" {
		fmt.Fprintf(&b, "Automator-Rollback-To: %s\n", req.RollbackTo)
	}
	for i, h := range req.Held {
		if i == messageList {
			break
		}
		fmt.Fprintf(&b, "Automator-Held: %s\n", h.Service)
	}
	for _, t := range req.Trailers {
		b.WriteString(oneLine(t) + "\n")
	}
	fmt.Fprintf(&b, "Automator-Environment: %s\n", req.Env.Name)
	return b.String()
}

// renderHeld lists the services held in the environment (holds and
// reverts automation does not promote over), naming at most rows.
func renderHeld(b *strings.Builder, held []Held, rows int) {
	renderCapped(b, "Held, not promoted", "", len(held), rows, func(i int) string {
		name := held[i].Service
		if name == "*" {
			name = "every service"
		}
		return fmt.Sprintf("**%s**: %s", name, capRunes(oneLine(held[i].Reason), 500))
	})
	if len(held) > 0 {
		b.WriteString("\nRelease a hold with `automator release --env ENV --service SERVICE`.\n")
	}
}

// oneLine folds text onto one line (trailers and list items are lines).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func evidenceOf(u Update) *Evidence {
	if u.Scan == nil {
		return nil
	}
	return u.Scan.Evidence
}
