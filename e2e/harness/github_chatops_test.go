package harness_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

// TestCollaboratorPermission checks GitHub's answers: the legacy permission
// folds maintain into write and triage into read, role_name and the user's
// permission flags keep them apart, the owner is admin, a known user who is
// no collaborator has none, and an unknown login is 404.
func TestCollaboratorPermission(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	gh.SetRole("org/manifests", "mona", "maintain")
	gh.SetRole("org/manifests", "tim", "triage")
	gh.AddUser("stranger")
	client := gh.Client(gh.Token)
	for _, tt := range []struct {
		login, legacy string
		flags         map[string]bool
	}{
		{login: "mona", legacy: "write", flags: map[string]bool{"admin": false, "maintain": true, "push": true, "triage": true, "pull": true}},
		{login: "tim", legacy: "read", flags: map[string]bool{"admin": false, "maintain": false, "push": false, "triage": true, "pull": true}},
		{login: "org", legacy: "admin", flags: map[string]bool{"admin": true, "maintain": true, "push": true, "triage": true, "pull": true}},
		{login: "stranger", legacy: "none", flags: map[string]bool{"admin": false, "maintain": false, "push": false, "triage": false, "pull": false}},
	} {
		p, _, err := client.Repositories.GetPermissionLevel(ctx, "org", "manifests", tt.login)
		if err != nil {
			t.Fatalf("%s: %v", tt.login, err)
		}
		if p.GetPermission() != tt.legacy || len(p.GetUser().Permissions) != 5 {
			t.Errorf("%s: permission %q flags %v, want %q", tt.login, p.GetPermission(), p.GetUser().Permissions, tt.legacy)
		}
		for k, v := range tt.flags {
			if p.GetUser().Permissions[k] != v {
				t.Errorf("%s: %s = %v, want %v", tt.login, k, p.GetUser().Permissions[k], v)
			}
		}
	}
	_, _, err := client.Repositories.GetPermissionLevel(ctx, "org", "manifests", "nobody-at-all")
	errorResponse(t, err, http.StatusNotFound)
}

// TestCommentReactions: a new reaction is 201, the same one again by the
// same user is 200 with the first, an unknown content is 422 and an unknown
// comment 404.
func TestCommentReactions(t *testing.T) {
	gh, local := manifestsRepo(t)
	ctx := context.Background()
	local.Branch("automator/dev")
	local.WriteFile("envs/dev/values.yaml", "image:\n  tag: v2\n")
	local.Commit("promote dev")
	local.PushTo(gh, "org/manifests")
	client := gh.Client(gh.Token)
	pr, _, err := client.PullRequests.Create(ctx, "org", "manifests", &github.NewPullRequest{Title: github.String("t"), Head: github.String("automator/dev"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	id := gh.AddComment("org/manifests", pr.GetNumber(), "mona", "/automator status")
	first, resp, err := client.Reactions.CreateIssueCommentReaction(ctx, "org", "manifests", id, "eyes")
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("first reaction: %v %v", resp, err)
	}
	again, resp, err := client.Reactions.CreateIssueCommentReaction(ctx, "org", "manifests", id, "eyes")
	if err != nil || resp.StatusCode != http.StatusOK || again.GetID() != first.GetID() {
		t.Fatalf("same reaction again: %v %v %v", resp, again, err)
	}
	_, _, err = client.Reactions.CreateIssueCommentReaction(ctx, "org", "manifests", id, "thumbsup")
	errorResponse(t, err, http.StatusUnprocessableEntity)
	_, _, err = client.Reactions.CreateIssueCommentReaction(ctx, "org", "manifests", id+999, "eyes")
	errorResponse(t, err, http.StatusNotFound)
	list, _, err := client.Reactions.ListIssueCommentReactions(ctx, "org", "manifests", id, nil)
	if err != nil || len(list) != 1 || list[0].GetUser().GetLogin() != "automator-bot" || list[0].GetContent() != "eyes" {
		t.Errorf("reactions = %v %v", list, err)
	}
}
