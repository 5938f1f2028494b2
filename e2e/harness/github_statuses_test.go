package harness_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

// Commit statuses follow GitHub: the newest status per context decides, the
// combined state is failure while any context fails, unknown states and
// commits are 422, and removing a label the pull request lacks is 404.
func TestCommitStatusesAndLabelRemoval(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	client := gh.Client(gh.Token)
	head, _ := gh.RevParse("org/manifests", "main")
	set := func(state, context string) {
		t.Helper()
		if _, _, err := client.Repositories.CreateStatus(ctx, "org", "manifests", head, &github.RepoStatus{State: github.String(state), Context: github.String(context)}); err != nil {
			t.Fatal(err)
		}
	}
	combined := func() string {
		t.Helper()
		cs, _, err := client.Repositories.GetCombinedStatus(ctx, "org", "manifests", "main", nil)
		if err != nil {
			t.Fatal(err)
		}
		return cs.GetState()
	}
	if got := combined(); got != "pending" {
		t.Errorf("combined state without statuses = %q, want pending", got)
	}
	set("success", "ci")
	set("failure", "automator/freeze")
	if got := combined(); got != "failure" {
		t.Errorf("combined state = %q, want failure", got)
	}
	set("success", "automator/freeze")
	if got := combined(); got != "success" {
		t.Errorf("combined state after the newer success = %q, want success", got)
	}
	if st, ok := gh.LatestStatus("org/manifests", head, "automator/freeze"); !ok || st.State != "success" {
		t.Errorf("LatestStatus = %+v, %v", st, ok)
	}
	list, _, err := client.Repositories.ListStatuses(ctx, "org", "manifests", head, nil)
	if err != nil || len(list) != 3 || list[0].GetState() != "success" || list[0].GetContext() != "automator/freeze" {
		t.Errorf("ListStatuses = %d statuses (newest %s %s), %v; want 3, newest first", len(list), list[0].GetContext(), list[0].GetState(), err)
	}
	_, _, err = client.Repositories.CreateStatus(ctx, "org", "manifests", head, &github.RepoStatus{State: github.String("green")})
	errorResponse(t, err, http.StatusUnprocessableEntity)
	_, _, err = client.Repositories.CreateStatus(ctx, "org", "manifests", "0123456789012345678901234567890123456789", &github.RepoStatus{State: github.String("success")})
	errorResponse(t, err, http.StatusUnprocessableEntity)

	pr, _, err := client.PullRequests.Create(ctx, "org", "manifests", &github.NewPullRequest{Title: github.String("t"), Head: github.String(mustBranch(t, gh, client)), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Issues.AddLabelsToIssue(ctx, "org", "manifests", pr.GetNumber(), []string{"freeze", "promotion"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Issues.RemoveLabelForIssue(ctx, "org", "manifests", pr.GetNumber(), "freeze"); err != nil {
		t.Fatal(err)
	}
	_, err = client.Issues.RemoveLabelForIssue(ctx, "org", "manifests", pr.GetNumber(), "freeze")
	errorResponse(t, err, http.StatusNotFound)
	labels, _, err := client.Issues.ListLabelsByIssue(ctx, "org", "manifests", pr.GetNumber(), nil)
	if err != nil || len(labels) != 1 || labels[0].GetName() != "promotion" {
		t.Errorf("labels after removal = %v, %v; want [promotion]", labels, err)
	}
}

// mustBranch creates branch "topic" with one commit on top of main.
func mustBranch(t *testing.T, gh interface {
	RevParse(string, string) (string, bool)
}, client *github.Client) string {
	t.Helper()
	ctx := context.Background()
	base, _ := gh.RevParse("org/manifests", "main")
	parent, _, err := client.Git.GetCommit(ctx, "org", "manifests", base)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := client.Git.CreateCommit(ctx, "org", "manifests", &github.Commit{Message: github.String("topic"), Tree: parent.Tree, Parents: []*github.Commit{{SHA: parent.SHA}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Git.CreateRef(ctx, "org", "manifests", &github.Reference{Ref: github.String("refs/heads/topic"), Object: &github.GitObject{SHA: c.SHA}}); err != nil {
		t.Fatal(err)
	}
	return "topic"
}
