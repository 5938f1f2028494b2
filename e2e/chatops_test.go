package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
)

// TestChatOpsPromoteProd: after the demo flow, `/automator promote prod`
// commented on the staging pull request by a read-only user is refused with
// a reply; by a maintainer it opens the prod pull request; the same event
// delivered again opens nothing and answers nothing. Then a hold by
// comment (prod's permission, the commenter's name) is merged, the next
// `/automator promote prod` leaves the held service out and says so, status
// shows the hold, and a release by comment lifts it.
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

	// A hold by comment: the read-only user may not; the maintainer's goes
	// through prod's usual mode (a pull request), in her name.
	run(s.gh.AddComment(manifestRepo, staging, "rita", "/automator hold prod cart --reason no"))
	if rs := replies(); len(rs) != 3 || !strings.Contains(rs[2].Body, "`hold prod` needs the **maintain** role") {
		t.Fatalf("hold refusal replies = %+v", rs)
	}
	run(s.gh.AddComment(manifestRepo, staging, "mona", "/automator hold prod cart --reason cart's schema migration is not done"))
	rs = replies()
	if len(rs) != 4 || !strings.Contains(rs[3].Body, "to hold prod: ") {
		t.Fatalf("hold replies = %+v", rs)
	}
	pulls = s.gh.PullRequests(manifestRepo)
	hold := pulls[len(pulls)-1]
	if hold.Head != "automator/hold-prod" || !strings.Contains(rs[3].Body, fmt.Sprintf("#%d", hold.Number)) {
		t.Fatalf("hold pull request %+v, reply %s", hold, rs[3].Body)
	}
	s.gh.MergePull(manifestRepo, hold.Number)
	file, _ := s.gh.ReadFile(manifestRepo, "main", ".automator/holds.yaml")
	wantAllText(t, "holds file", file, "environment: prod", "service: cart", "by: mona", "cart's schema migration is not done", "/automator hold by @mona")

	// The next promotion of prod leaves cart where it is, and says why.
	run(s.gh.AddComment(manifestRepo, staging, "mona", "/automator promote prod"))
	rs = replies()
	if len(rs) != 5 || !strings.Contains(rs[4].Body, "- cart: held, not promoted (held by mona") {
		t.Fatalf("promote after the hold: replies = %+v", rs)
	}
	for _, p := range s.gh.PullRequests(manifestRepo) {
		if p.Head == "automator/prod" && p.State == "open" {
			wantAllText(t, "prod pull request body", p.Body, "Held, not promoted", "cart")
		}
	}
	// status shows the hold.
	out := s.exec(s.gh.Env(manifestRepo), "status")
	wantAllText(t, "status", out.stdout, "HOLD", "held by mona on ", "cart's schema migration is not done")

	// Released by comment: the hold is gone from the file once merged.
	run(s.gh.AddComment(manifestRepo, staging, "mona", "/automator release prod cart"))
	rs = replies()
	pulls = s.gh.PullRequests(manifestRepo)
	release := pulls[len(pulls)-1]
	if len(rs) != 6 || release.Head != "automator/release-prod" || !strings.Contains(rs[5].Body, "to release prod: ") {
		t.Fatalf("release: %+v, replies %+v", release, rs)
	}
	s.gh.MergePull(manifestRepo, release.Number)
	if file, _ := s.gh.ReadFile(manifestRepo, "main", ".automator/holds.yaml"); strings.Contains(file, "service: cart") {
		t.Errorf("cart still held after the release:\n%s", file)
	}
}
