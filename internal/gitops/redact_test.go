package gitops

import (
	"context"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

// applyRecorder is a Writer that renders the request the way the real
// writers do (commit message and pull request body) and keeps the text.
type applyRecorder struct {
	Writer
	text string
}

func (a *applyRecorder) Apply(_ context.Context, req Request) (*Result, error) {
	msg := commitMessage(req.Title, req, req.Updates, Links{}, "", nil, false)
	pr := body(req, bodyText{branch: "automator/" + req.Env.Name, updates: req.Updates})
	a.text = msg + pr
	return &Result{Env: req.Env.Name, Message: msg, PR: &PullRequest{Title: req.Title, Body: pr}}, nil
}

func TestRedactingScrubsCommitAndPullRequestText(t *testing.T) {
	const secret = "s3cr3t-build-token"
	scrub := func(s string) string { return strings.ReplaceAll(s, secret, "***") }
	rec := &applyRecorder{}
	scan := ScanSummary{Verdict: "fail", Blocking: []Finding{{ID: "CVE-1", Severity: "CRITICAL", Title: "leaks " + secret}}}
	req := Request{
		Env:     config.Environment{Name: "dev", Repo: "acme/manifests"},
		Title:   "Promote cart " + secret,
		Note:    "Rollback because " + secret + " leaked",
		Updates: []Update{{Service: "cart", Repository: "r/cart", Tag: "1.0", Scan: &scan}},
		Blocked: []Blocked{{Service: "web", Image: "r/web@sha256:1", Scan: scan}},
	}
	res, err := Redacting(rec, scrub).Apply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"rendered": rec.text, "message": res.Message, "pr title": res.PR.Title, "pr body": res.PR.Body} {
		if strings.Contains(text, secret) {
			t.Errorf("%s carries the secret:\n%s", what, text)
		}
	}
	if !strings.Contains(rec.text, "Promote cart ***") || !strings.Contains(rec.text, "cart") {
		t.Errorf("rendered text lost its content:\n%s", rec.text)
	}
	if req.Updates[0].Scan.Blocking[0].Title != "leaks "+secret {
		t.Error("the caller's request was modified")
	}
}
