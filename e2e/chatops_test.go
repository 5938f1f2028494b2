package e2e_test

import (
	"strings"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
)

// TestChatOpsPromoteProd: after the demo flow, `/automator promote prod`
// commented on the staging pull request by a read-only user is refused with
// a reply; by a maintainer it opens the prod pull request; the same event
// delivered again opens nothing and answers nothing.
func TestChatOpsPromoteProd(t *testing.T) {
	s := demoFlow(t)
	s.gh.SetRole(manifestRepo, "mona", "maintain")
	s.gh.SetRole(manifestRepo, "rita", "read")
	staging := s.gh.PullRequests(manifestRepo)[0].Number
	repo := harness.EventRepo{FullName: manifestRepo, DefaultBranch: "main"}
	run := func(id int64) runResult {
		t.Helper()
		r := s.exec(s.actionEnv(s.gh.CommentEvent(repo, "created", staging, id), map[string]string{"command": "chatops"}))
		if r.code != 0 {
			t.Fatalf("chatops exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		return r
	}
	replies := func() []harness.IssueComment {
		var out []harness.IssueComment
		for _, c := range s.gh.Comments(manifestRepo, staging) {
			if strings.Contains(c.Body, "automator:chatops reply-to=") {
				out = append(out, c)
			}
		}
		return out
	}

	refused := s.gh.AddComment(manifestRepo, staging, "rita", "/automator promote prod")
	run(refused)
	if n := len(s.gh.PullRequests(manifestRepo)); n != 1 {
		t.Fatalf("a read-only user's command opened a pull request (%d PRs)", n)
	}
	if rs := replies(); len(rs) != 1 || !strings.Contains(rs[0].Body, "needs the **maintain** role") || !strings.Contains(rs[0].Body, "you have **read**") {
		t.Fatalf("refusal replies = %+v", rs)
	}

	id := s.gh.AddComment(manifestRepo, staging, "mona", "Staging looks good.\n/automator promote prod")
	r := run(id)
	pulls := s.gh.PullRequests(manifestRepo)
	if len(pulls) != 2 || pulls[1].Head != "automator/prod" || pulls[1].Base != "main" {
		t.Fatalf("pull requests after the maintainer's command: %+v\n%s", pulls, r.stdout)
	}
	rs := replies()
	if len(rs) != 2 || !strings.Contains(rs[1].Body, "Opened pull request #") || !strings.Contains(rs[1].Body, "/pull/") {
		t.Fatalf("replies = %+v", rs)
	}
	var contents []string
	for _, re := range s.gh.Reactions(id) {
		contents = append(contents, re.Content)
	}
	if strings.Join(contents, ",") != "eyes,rocket" {
		t.Errorf("reactions = %v, want eyes then rocket", contents)
	}

	// The same event again (a re-delivery, a re-run workflow): nothing new.
	r = run(id)
	if n := len(s.gh.PullRequests(manifestRepo)); n != 2 || len(replies()) != 2 || !strings.Contains(r.stdout, "already answered") {
		t.Errorf("re-delivery: %d PRs, %d replies\n%s", n, len(replies()), r.stdout)
	}
}
