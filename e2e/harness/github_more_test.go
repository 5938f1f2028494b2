package harness_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/e2e/harness"
)

// Two writers race to move main from the same base: exactly one wins, the other gets GitHub's 422 and main
// holds the winner's commit.
func TestConcurrentRefUpdatesAreSerialised(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	client := gh.Client(gh.Token)
	base, _ := gh.RevParse("org/manifests", "main")
	parent, _, err := client.Git.GetCommit(ctx, "org", "manifests", base)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 4
	shas := make([]string, writers)
	for i := range shas {
		c, _, err := client.Git.CreateCommit(ctx, "org", "manifests", &github.Commit{
			Message: github.String("writer " + string(rune('a'+i))), Tree: parent.Tree, Parents: []*github.Commit{{SHA: parent.SHA}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		shas[i] = c.GetSHA()
	}
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range shas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, resp, _ := gh.Client(gh.Token).Git.UpdateRef(ctx, "org", "manifests",
				&github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: github.String(shas[i])}}, false)
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	winners := 0
	head, _ := gh.RevParse("org/manifests", "main")
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			winners++
			if head != shas[i] {
				t.Errorf("writer %d won but main = %s", i, head)
			}
		case http.StatusUnprocessableEntity:
		default:
			t.Errorf("writer %d got %d", i, s)
		}
	}
	if winners != 1 {
		t.Fatalf("%d writers won (statuses %v), want exactly 1", winners, statuses)
	}
}

func TestInstallationPermissionsAndRepositoryScope(t *testing.T) {
	gh, _ := manifestsRepo(t)
	gh.CreateRepo("org", "other", "main", "")
	gh.CreateRepo("elsewhere", "repo", "main", "")
	ctx := context.Background()
	readOnly := gh.RegisterApp("reader", map[string]string{"contents": "read", "metadata": "read"})
	inst := gh.InstallApp(readOnly, "org")
	jwt, err := readOnly.SignAppJWT(nowMinus(30), nowPlus(120))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := gh.Client(jwt).Apps.CreateInstallationToken(ctx, inst, &github.InstallationTokenOptions{Repositories: []string{"manifests"}})
	if err != nil {
		t.Fatal(err)
	}
	client := gh.Client(tok.GetToken())
	if _, _, err := client.Git.GetRef(ctx, "org", "manifests", "heads/main"); err != nil {
		t.Fatalf("read with contents:read: %v", err)
	}
	_, _, err = client.Git.CreateBlob(ctx, "org", "manifests", &github.Blob{Content: github.String("x"), Encoding: github.String("utf-8")})
	if er := errorResponse(t, err, http.StatusForbidden); er.Message != "Resource not accessible by integration" {
		t.Fatalf("message = %q", er.Message)
	}
	_, _, err = client.PullRequests.Create(ctx, "org", "manifests", &github.NewPullRequest{Title: github.String("t"), Head: github.String("x"), Base: github.String("main")})
	errorResponse(t, err, http.StatusForbidden)
	for _, repo := range []string{"org/other", "elsewhere/repo"} {
		owner, name, _ := strings.Cut(repo, "/")
		_, _, err = client.Repositories.Get(ctx, owner, name)
		errorResponse(t, err, http.StatusNotFound)
	}
	_, _, err = gh.Client(jwt).Apps.CreateInstallationToken(ctx, inst, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("write")}})
	errorResponse(t, err, http.StatusUnprocessableEntity)
	// A user token is not an App JWT.
	_, _, err = gh.Client(gh.Token).Apps.CreateInstallationToken(ctx, inst, nil)
	errorResponse(t, err, http.StatusUnauthorized)
}

func TestContentsTreesAndRefListings(t *testing.T) {
	gh, local := manifestsRepo(t)
	local.Branch("automator/dev")
	local.WriteFile("envs/dev/values.yaml", "image:\n  tag: v9\n")
	local.Commit("dev")
	local.Checkout("main")
	local.Tag("v1.0.0")
	local.PushTo(gh, "org/manifests")
	ctx := context.Background()
	client := gh.Client(gh.Token)

	_, dir, _, err := client.Repositories.GetContents(ctx, "org", "manifests", "envs", nil)
	if err != nil || len(dir) != 2 || dir[0].GetType() != "dir" || dir[0].GetPath() != "envs/dev" {
		t.Fatalf("dir listing = %v, %v", dir, err)
	}
	fc, _, _, err := client.Repositories.GetContents(ctx, "org", "manifests", "envs/dev/values.yaml", &github.RepositoryContentGetOptions{Ref: "automator/dev"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := fc.GetContent(); s != "image:\n  tag: v9\n" {
		t.Fatalf("content at branch = %q", s)
	}
	_, _, _, err = client.Repositories.GetContents(ctx, "org", "manifests", "envs/qa/values.yaml", nil)
	errorResponse(t, err, http.StatusNotFound)
	_, _, _, err = client.Repositories.GetContents(ctx, "org", "manifests", "README.md", &github.RepositoryContentGetOptions{Ref: "no-such-branch"})
	errorResponse(t, err, http.StatusNotFound)

	tree, _, err := client.Git.GetTree(ctx, "org", "manifests", "main", true)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{}
	for _, e := range tree.Entries {
		paths = append(paths, e.GetType()+":"+e.GetPath())
	}
	if got := strings.Join(paths, ","); got != "blob:README.md,tree:envs,tree:envs/dev,blob:envs/dev/values.yaml,tree:envs/prod,blob:envs/prod/values.yaml" {
		t.Fatalf("recursive tree = %s", got)
	}

	refs, _, err := client.Git.ListMatchingRefs(ctx, "org", "manifests", &github.ReferenceListOptions{Ref: "heads/automator/"})
	if err != nil || len(refs) != 1 || refs[0].GetRef() != "refs/heads/automator/dev" {
		t.Fatalf("matching refs = %v, %v", refs, err)
	}
	tag, _, err := client.Git.GetRef(ctx, "org", "manifests", "tags/v1.0.0")
	if err != nil || tag.GetObject().GetType() != "tag" {
		t.Fatalf("annotated tag ref = %+v, %v", tag, err)
	}
	if _, err := client.Git.DeleteRef(ctx, "org", "manifests", "heads/automator/dev"); err != nil {
		t.Fatal(err)
	}
	_, err = client.Git.DeleteRef(ctx, "org", "manifests", "heads/automator/dev")
	errorResponse(t, err, http.StatusUnprocessableEntity)

	// Pagination: per_page=1 over two commits gives a next link that go-github follows.
	commits, resp, err := client.Repositories.ListCommits(ctx, "org", "manifests", &github.CommitsListOptions{SHA: "main", ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil || len(commits) != 1 || resp.NextPage != 0 {
		t.Fatalf("main has one commit: %d commits, next %d, %v", len(commits), resp.NextPage, err)
	}
	local.WriteFile("README.md", "manifests v2\n")
	local.Commit("readme")
	local.PushTo(gh, "org/manifests")
	commits, resp, err = client.Repositories.ListCommits(ctx, "org", "manifests", &github.CommitsListOptions{SHA: "main", ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil || len(commits) != 1 || resp.NextPage != 2 || commits[0].GetCommit().GetMessage() != "readme" {
		t.Fatalf("page 1 = %d commits, next %d, %v", len(commits), resp.NextPage, err)
	}
	if len(gh.Unmatched()) != 0 {
		t.Fatalf("unmatched requests: %+v", gh.Unmatched())
	}
}

func TestActionsEventPayloadsParseAsGitHubEvents(t *testing.T) {
	gh := harness.StartGitHub(t)
	repo := harness.EventRepo{FullName: "acme/shop", DefaultBranch: "main"}
	before, after := strings.Repeat("a", 40), strings.Repeat("b", 40)
	tests := []struct {
		ev    harness.Event
		check func(t *testing.T, parsed any)
	}{
		{gh.PushEvent(repo, "refs/heads/main", before, after, false), func(t *testing.T, p any) {
			e := p.(*github.PushEvent)
			if e.GetBefore() != before || e.GetAfter() != after || e.GetRef() != "refs/heads/main" || e.GetRepo().GetDefaultBranch() != "main" {
				t.Fatalf("push = %+v", e)
			}
		}},
		{gh.PullRequestEvent(repo, "opened", 7, "main", before, "feature", after, strings.Repeat("c", 40)), func(t *testing.T, p any) {
			e := p.(*github.PullRequestEvent)
			pr := e.GetPullRequest()
			if pr.GetBase().GetSHA() != before || pr.GetHead().GetSHA() != after || pr.GetBase().GetRef() != "main" || e.GetNumber() != 7 {
				t.Fatalf("pull_request = %+v", pr)
			}
		}},
		{gh.MergeGroupEvent(repo, "refs/heads/main", before, after), func(t *testing.T, p any) {
			e := p.(*github.MergeGroupEvent)
			if e.GetMergeGroup().GetBaseSHA() != before || e.GetMergeGroup().GetHeadSHA() != after {
				t.Fatalf("merge_group = %+v", e.GetMergeGroup())
			}
		}},
		{gh.WorkflowDispatchEvent(repo, "refs/heads/main", after, map[string]string{"environment": "prod"}), func(t *testing.T, p any) {
			e := p.(*github.WorkflowDispatchEvent)
			var inputs map[string]string
			if err := json.Unmarshal(e.Inputs, &inputs); err != nil || inputs["environment"] != "prod" || e.GetRef() != "refs/heads/main" {
				t.Fatalf("workflow_dispatch = %s, %v", e.Inputs, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.ev.Name, func(t *testing.T) {
			env := gh.ActionsEnv(t, "acme/shop", tc.ev, "")
			if env["GITHUB_EVENT_NAME"] != tc.ev.Name || env["GITHUB_SHA"] != tc.ev.SHA || env["GITHUB_API_URL"] != gh.APIURL {
				t.Fatalf("env = %v", env)
			}
			b, err := os.ReadFile(env["GITHUB_EVENT_PATH"])
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := github.ParseWebHook(tc.ev.Name, b)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, parsed)
		})
	}
}

func TestDownloadContentsAndRawMediaType(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	client := gh.Client(gh.Token)
	rc, _, err := client.Repositories.DownloadContents(ctx, "org", "manifests", "envs/dev/values.yaml", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "image:\n  tag: v1\n" {
		t.Fatalf("download = %q, %v", b, err)
	}
	req, err := client.NewRequest(http.MethodGet, "repos/org/manifests/contents/envs/prod/values.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.github.raw")
	var buf strings.Builder
	if _, err := client.Do(ctx, req, &buf); err != nil || buf.String() != "image:\n  tag: v0\n" {
		t.Fatalf("raw media type = %q, %v", buf.String(), err)
	}
}

// The fake refuses what GitHub refuses, with GitHub's 422 bodies: a body or
// title past the limit (on create and edit, and a comment's body), and a
// draft in a repository without drafts; comments are kept per pull request.
func TestPullRequestTextLimitsDraftsAndComments(t *testing.T) {
	gh, local := manifestsRepo(t)
	ctx := context.Background()
	client := gh.Client(gh.Token)
	local.Git("checkout", "-q", "-b", "feature")
	local.WriteFile("README.md", "changed\n")
	local.Commit("change")
	local.PushTo(gh, "org/manifests")
	newPR := func(title, body string, draft bool) (*github.PullRequest, error) {
		pr, _, err := client.PullRequests.Create(ctx, "org", "manifests", &github.NewPullRequest{Title: &title, Head: github.String("feature"), Base: github.String("main"), Body: &body, Draft: &draft})
		return pr, err
	}
	long := strings.Repeat("é", harness.MaxBody+1)
	if _, err := newPR("t", long, false); errorResponse(t, err, 422).Errors[0].Message != "body is too long (maximum is 65536 characters)" {
		t.Errorf("long body: %v", err)
	}
	if _, err := newPR(strings.Repeat("t", harness.MaxTitle+1), "", false); errorResponse(t, err, 422).Errors[0].Message != "title is too long (maximum is 256 characters)" {
		t.Errorf("long title: %v", err)
	}
	gh.DisableDraftPulls("org/manifests")
	if _, err := newPR("t", "", true); errorResponse(t, err, 422).Errors[0].Message != "Draft pull requests are not supported in this repository." {
		t.Errorf("draft: %v", err)
	}
	pr, err := newPR("t", strings.Repeat("é", harness.MaxBody), false)
	if err != nil {
		t.Fatalf("a body of exactly %d characters: %v", harness.MaxBody, err)
	}
	if _, _, err := client.PullRequests.Edit(ctx, "org", "manifests", pr.GetNumber(), &github.PullRequest{Body: &long}); errorResponse(t, err, 422).Errors[0].Field != "body" {
		t.Errorf("long body on edit: %v", err)
	}
	if _, _, err := client.Issues.CreateComment(ctx, "org", "manifests", pr.GetNumber(), &github.IssueComment{Body: &long}); errorResponse(t, err, 422).Errors[0].Field != "body" {
		t.Errorf("long comment: %v", err)
	}
	if _, _, err := client.Issues.CreateComment(ctx, "org", "manifests", pr.GetNumber(), &github.IssueComment{Body: github.String("hello")}); err != nil {
		t.Fatal(err)
	}
	cs, _, err := client.Issues.ListComments(ctx, "org", "manifests", pr.GetNumber(), nil)
	if err != nil || len(cs) != 1 || cs[0].GetBody() != "hello" || cs[0].GetUser().GetLogin() != "automator-bot" {
		t.Errorf("comments %+v, %v", cs, err)
	}
}
