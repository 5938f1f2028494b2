package gitops

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/rewrite"
)

// bigPromotion is n services promoted into staging, one changed tag and
// digest each in one values file, with blocked images carrying findings.
func bigPromotion(n, blocked, findings int) (Request, []Update, []edited) {
	env := config.Environment{Name: "staging", Repo: "acme/manifests", Files: []string{"values.yaml"}, Mode: "pull-request"}
	var updates []Update
	ed := edited{file: file{Path: "values.yaml"}}
	for i := range n {
		svc := fmt.Sprintf("service-%04d", i)
		repo := "ghcr.io/acme/" + svc
		d := fmt.Sprintf("sha256:%064x", i+1)
		updates = append(updates, Update{Service: svc, Repository: repo, Tag: "2.0.0", Digest: d,
			Scan:   &ScanSummary{Verdict: "pass", Counts: map[string]int{"HIGH": 2, "LOW": 7}},
			Source: &Source{Repo: "acme/app", From: strings.Repeat("1", 40), To: strings.Repeat("2", 40)}})
		ed.Changes = append(ed.Changes,
			rewrite.Change{Repository: repo, Path: svc + ".image.tag", Line: 3*i + 1, Field: "tag", Old: "1.0.0", New: "2.0.0"},
			rewrite.Change{Repository: repo, Path: svc + ".image.digest", Line: 3*i + 2, Field: "digest", Old: fmt.Sprintf("sha256:%064x", 0), New: d})
	}
	req := Request{Env: env, Updates: updates}
	for i := range blocked {
		b := Blocked{Service: fmt.Sprintf("blocked-%04d", i), Image: fmt.Sprintf("ghcr.io/acme/blocked-%04d@sha256:%064x", i, i), Scan: ScanSummary{Verdict: "fail", Counts: map[string]int{"CRITICAL": findings}}}
		for j := range findings {
			b.Scan.Blocking = append(b.Scan.Blocking, Finding{ID: fmt.Sprintf("CVE-2024-%05d", j), Severity: "CRITICAL", Package: "openssl", Installed: "3.0.1", Fixed: "3.0.2"})
		}
		req.Blocked = append(req.Blocked, b)
	}
	return req, updates, []edited{ed}
}

// TestTextWithinGitHubLimits: title, body and commit message stay within
// GitHub's limits for any number of services and findings, still say how
// many images change and are blocked, and the commit message keeps the whole
// pending record.
func TestTextWithinGitHubLimits(t *testing.T) {
	links := Links{ServerURL: "https://github.example"}
	for _, tt := range []struct{ services, blocked, findings int }{{1, 1, 3}, {50, 5, 20}, {150, 10, 50}, {500, 50, 100}, {2000, 500, 200}} {
		t.Run(fmt.Sprintf("%d services, %d blocked", tt.services, tt.blocked), func(t *testing.T) {
			req, updates, eds := bigPromotion(tt.services, tt.blocked, tt.findings)
			ti, err := title(req, updates)
			if err != nil {
				t.Fatal(err)
			}
			if n := utf8.RuneCountInString(ti); n > MaxTitle || !strings.HasPrefix(ti, "Promote service-0000") || !strings.HasSuffix(ti, " to staging") {
				t.Errorf("title of %d characters: %q", n, ti)
			}
			bd := body(req, bodyText{branch: "automator/staging", base: "b4se", updates: updates, eds: eds, links: links,
				compare: "https://github.example/acme/manifests/compare/main...automator/staging"})
			if n := utf8.RuneCountInString(bd); n > MaxBody {
				t.Errorf("body of %d characters, over GitHub's %d", n, MaxBody)
			}
			for _, want := range []string{fmt.Sprintf("Promotes %d image(s) to **staging**", tt.services), fmt.Sprintf("Blocked by the vulnerability gate (%d)", tt.blocked), "**service-0000**", "**blocked-0000**"} {
				if !strings.Contains(bd, want) {
					t.Errorf("body lacks %q", want)
				}
			}
			if tt.services <= 50 && !strings.Contains(bd, blockStart) {
				t.Error("a small body lost its pending block")
			}
			if tt.services >= 500 && (!strings.Contains(bd, "more services") || !strings.Contains(bd, "/compare/")) {
				t.Error("a collapsed body neither counts the rest nor links the changes")
			}
			msg := commitMessage(ti, req, updates, links, "b4se", nil, true)
			if got := decodeBlock(msg); len(got.Updates) != tt.services {
				t.Errorf("the commit message's record holds %d of %d updates", len(got.Updates), tt.services)
			}
			if human := strings.Count(msg, "\n- "); human > 2*messageList+2 {
				t.Errorf("the commit message lists %d lines for people", human)
			}
		})
	}
}

func TestCapMarkdown(t *testing.T) {
	md := "# t\n\n<details><summary>x</summary>\n\n" + strings.Repeat("| a | b |\n", 1000) + "</details>\n"
	if got := CapMarkdown(md, len(md), "note\n"); got != md {
		t.Error("text within the limit changed")
	}
	got := CapMarkdown(md, 500, "…cut\n")
	if len(got) > 500 || !strings.HasSuffix(got, "…cut\n") || strings.Count(got, "<details>") != strings.Count(got, "</details>") {
		t.Errorf("capped to %d bytes:\n%s", len(got), got)
	}
	fenced := "```\n" + strings.Repeat("line é\n", 500) + "```\n"
	got = CapMarkdown(fenced, 300, "…\n")
	if len(got) > 300 || strings.Count(got, "```")%2 != 0 || !utf8.ValidString(got) {
		t.Errorf("fence not closed or limit passed (%d bytes):\n%s", len(got), got)
	}
}

func FuzzCapMarkdown(f *testing.F) {
	f.Add("<details>\n```\nabc\n", 10)
	f.Add(strings.Repeat("é\n", 100), 50)
	f.Fuzz(func(t *testing.T, md string, limit int) {
		if limit < 64 || limit > 1<<16 {
			return
		}
		got := CapMarkdown(md, limit, "…\n")
		if len(got) > limit && len(md) > limit {
			t.Errorf("%d bytes over the limit %d", len(got), limit)
		}
		if len(md) <= limit && got != md {
			t.Error("text within the limit changed")
		}
	})
}

// BenchmarkRenderPullRequest2000 renders the title, body and commit message
// of a 2,000-service promotion with 200 blocked images.
func BenchmarkRenderPullRequest2000(b *testing.B) {
	req, updates, eds := bigPromotion(2000, 200, 50)
	links := Links{ServerURL: "https://github.example"}
	b.ReportAllocs()
	for b.Loop() {
		ti, _ := title(req, updates)
		_ = body(req, bodyText{branch: "automator/staging", base: "b4se", updates: updates, eds: eds, links: links})
		_ = commitMessage(ti, req, updates, links, "b4se", nil, true)
	}
}
