package harness_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/e2e/harness"
)

// manifestsRepo creates org/manifests with history: base files on main.
func manifestsRepo(t *testing.T) (*harness.GitHub, *harness.GitRepo) {
	t.Helper()
	gh := harness.StartGitHub(t)
	local := harness.NewGitRepo(t, "")
	local.WriteFile("envs/dev/values.yaml", "image:\n  tag: v1\n")
	local.WriteFile("envs/prod/values.yaml", "image:\n  tag: v0\n")
	local.WriteFile("README.md", "manifests\n")
	local.Commit("initial manifests")
	local.PushTo(gh, "org/manifests")
	return gh, local
}

func errorResponse(t *testing.T, err error, status int) *github.ErrorResponse {
	t.Helper()
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("err = %v (%T), want *github.ErrorResponse with status %d", err, err, status)
	}
	if er.Response.StatusCode != status {
		t.Fatalf("status = %d (%s), want %d", er.Response.StatusCode, er.Message, status)
	}
	return er
}

func TestPullRequestLifecycle(t *testing.T) {
	gh, local := manifestsRepo(t)
	ctx := context.Background()
	local.Branch("automator/dev")
	local.WriteFile("envs/dev/values.yaml", "image:\n  tag: v2\n")
	headSHA := local.Commit("promote dev")
	local.PushTo(gh, "org/manifests")

	client := gh.Client(gh.Token)
	newPR := &github.NewPullRequest{Title: github.String("Promote dev"), Head: github.String("automator/dev"),
		Base: github.String("main"), Body: github.String("body")}
	pr, _, err := client.PullRequests.Create(ctx, "org", "manifests", newPR)
	if err != nil {
		t.Fatalf("creating PR: %v", err)
	}
	if pr.GetHead().GetSHA() != headSHA || pr.GetNumber() != 1 || pr.GetState() != "open" {
		t.Fatalf("PR = #%d %s head %s, want #1 open head %s", pr.GetNumber(), pr.GetState(), pr.GetHead().GetSHA(), headSHA)
	}
	if !strings.HasPrefix(pr.GetHTMLURL(), gh.URL+"/org/manifests/pull/1") {
		t.Errorf("html_url = %q", pr.GetHTMLURL())
	}
	out, err := exec.Command("git", "--git-dir", gh.GitDir("org/manifests"), "rev-parse", "refs/heads/automator/dev").Output()
	if err != nil || strings.TrimSpace(string(out)) != headSHA {
		t.Fatalf("bare repo head branch = %q, %v; want %s", out, err, headSHA)
	}

	_, _, err = client.PullRequests.Create(ctx, "org", "manifests", newPR)
	er := errorResponse(t, err, http.StatusUnprocessableEntity)
	if len(er.Errors) != 1 || !strings.Contains(er.Errors[0].Message, "A pull request already exists for org:automator/dev") {
		t.Fatalf("duplicate PR errors = %+v", er.Errors)
	}

	// Listing by owner:branch finds it; a bare branch name is ignored by GitHub, so it lists everything.
	list, _, err := client.PullRequests.List(ctx, "org", "manifests", &github.PullRequestListOptions{Head: "org:automator/dev", Base: "main"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list by head = %d, %v", len(list), err)
	}
	list, _, err = client.PullRequests.List(ctx, "org", "manifests", &github.PullRequestListOptions{Head: "org:other"})
	if err != nil || len(list) != 0 {
		t.Fatalf("list by other head = %d, %v", len(list), err)
	}

	gh.AddUser("alice")
	gh.AddTeam("org", "platform")
	if _, _, err := client.Issues.AddLabelsToIssue(ctx, "org", "manifests", 1, []string{"automator", "env:dev"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.PullRequests.RequestReviewers(ctx, "org", "manifests", 1, github.ReviewersRequest{Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = client.PullRequests.RequestReviewers(ctx, "org", "manifests", 1, github.ReviewersRequest{Reviewers: []string{"mallory"}})
	errorResponse(t, err, http.StatusUnprocessableEntity)
	if _, _, err := client.Issues.AddAssignees(ctx, "org", "manifests", 1, []string{"alice", "nobody"}); err != nil {
		t.Fatal(err)
	}
	edited, _, err := client.PullRequests.Edit(ctx, "org", "manifests", 1, &github.PullRequest{Title: github.String("Promote dev (2)")})
	if err != nil || edited.GetTitle() != "Promote dev (2)" {
		t.Fatalf("edit = %q, %v", edited.GetTitle(), err)
	}
	got := gh.PullRequests("org/manifests")[0]
	if strings.Join(got.Labels, ",") != "automator,env:dev" || strings.Join(got.Reviewers, ",") != "alice" ||
		strings.Join(got.TeamReviewers, ",") != "platform" || strings.Join(got.Assignees, ",") != "alice" {
		t.Fatalf("PR state = %+v", got)
	}

	mergeSHA := gh.MergePull("org/manifests", 1)
	if v, ok := gh.ReadFile("org/manifests", "main", "envs/dev/values.yaml"); !ok || v != "image:\n  tag: v2\n" {
		t.Fatalf("main after merge = %q, %v", v, ok)
	}
	if sha, _ := gh.RevParse("org/manifests", "main"); sha != mergeSHA {
		t.Fatalf("main = %s, want merge %s", sha, mergeSHA)
	}
	closed, _, err := client.PullRequests.Get(ctx, "org", "manifests", 1)
	if err != nil || !closed.GetMerged() || closed.GetState() != "closed" || closed.GetMergeCommitSHA() != mergeSHA {
		t.Fatalf("merged PR = merged %v state %s, %v", closed.GetMerged(), closed.GetState(), err)
	}
	// Nothing between main and the merged branch now: GitHub refuses a new PR.
	_, _, err = client.PullRequests.Create(ctx, "org", "manifests", newPR)
	er = errorResponse(t, err, http.StatusUnprocessableEntity)
	if len(er.Errors) != 1 || !strings.Contains(er.Errors[0].Message, "No commits between") {
		t.Fatalf("errors = %+v", er.Errors)
	}
	_, _, err = client.PullRequests.Create(ctx, "org", "manifests", &github.NewPullRequest{Title: github.String("x"), Head: github.String("missing"), Base: github.String("main")})
	errorResponse(t, err, http.StatusUnprocessableEntity)
	if n := gh.Calls("POST /repos/{owner}/{repo}/pulls"); n != 4 {
		t.Errorf("create PR calls = %d, want 4", n)
	}
}

func TestGitDataCommitFlow(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	client := gh.Client(gh.Token)
	ref, _, err := client.Git.GetRef(ctx, "org", "manifests", "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	base := ref.GetObject().GetSHA()
	baseCommit, _, err := client.Git.GetCommit(ctx, "org", "manifests", base)
	if err != nil {
		t.Fatal(err)
	}
	blob, _, err := client.Git.CreateBlob(ctx, "org", "manifests", &github.Blob{
		Content: github.String(base64.StdEncoding.EncodeToString([]byte("image:\n  tag: v3\n"))), Encoding: github.String("base64")})
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := client.Git.CreateTree(ctx, "org", "manifests", baseCommit.GetTree().GetSHA(), []*github.TreeEntry{
		{Path: github.String("envs/dev/values.yaml"), Mode: github.String("100644"), Type: github.String("blob"), SHA: blob.SHA},
		{Path: github.String("envs/staging/values.yaml"), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String("image:\n  tag: v3\n")},
		{Path: github.String("README.md"), Mode: github.String("100644"), Type: github.String("blob")}, // null sha: delete
	})
	if err != nil {
		t.Fatalf("creating tree: %v", err)
	}
	commit, _, err := client.Git.CreateCommit(ctx, "org", "manifests", &github.Commit{
		Message: github.String("promote dev"), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: github.String(base)}}}, nil)
	if err != nil {
		t.Fatalf("creating commit: %v", err)
	}
	if commit.GetVerification().GetVerified() {
		t.Errorf("token-authored commit is verified; only App commits without author are")
	}
	if rec, ok := gh.Commit("org/manifests", commit.GetSHA()); !ok || rec.Identity.Kind != harness.IdentityToken || rec.CustomAuthor {
		t.Errorf("commit record = %+v, %v", rec, ok)
	}
	if _, _, err := client.Git.UpdateRef(ctx, "org", "manifests", &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: commit.SHA}}, false); err != nil {
		t.Fatalf("fast-forward update: %v", err)
	}
	for path, want := range map[string]string{"envs/dev/values.yaml": "image:\n  tag: v3\n", "envs/staging/values.yaml": "image:\n  tag: v3\n"} {
		fc, _, _, err := client.Repositories.GetContents(ctx, "org", "manifests", path, &github.RepositoryContentGetOptions{Ref: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := fc.GetContent(); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, ok := gh.ReadFile("org/manifests", "main", "README.md"); ok {
		t.Errorf("README.md still present after null-sha tree entry")
	}
	cmp, _, err := client.Repositories.CompareCommits(ctx, "org", "manifests", base, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, f := range cmp.Files {
		statuses[f.GetFilename()] = f.GetStatus()
	}
	want := map[string]string{"envs/dev/values.yaml": "modified", "envs/staging/values.yaml": "added", "README.md": "removed"}
	if len(statuses) != len(want) || cmp.GetAheadBy() != 1 || cmp.GetStatus() != "ahead" || cmp.GetMergeBaseCommit().GetSHA() != base {
		t.Fatalf("compare = %v ahead %d status %s", statuses, cmp.GetAheadBy(), cmp.GetStatus())
	}
	for f, s := range want {
		if statuses[f] != s {
			t.Errorf("compare %s = %q, want %q", f, statuses[f], s)
		}
	}

	// A commit on the old base is not a fast forward of main any more.
	stale, _, err := client.Git.CreateCommit(ctx, "org", "manifests", &github.Commit{
		Message: github.String("stale"), Tree: baseCommit.Tree, Parents: []*github.Commit{{SHA: github.String(base)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.Git.UpdateRef(ctx, "org", "manifests", &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: stale.SHA}}, false)
	if er := errorResponse(t, err, http.StatusUnprocessableEntity); er.Message != "Update is not a fast forward" {
		t.Fatalf("message = %q", er.Message)
	}
	if sha, _ := gh.RevParse("org/manifests", "main"); sha != commit.GetSHA() {
		t.Fatalf("main moved to %s after a rejected update", sha)
	}
	// Creating an existing ref is refused; unknown refs are 404.
	_, _, err = client.Git.CreateRef(ctx, "org", "manifests", &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: stale.SHA}})
	if er := errorResponse(t, err, http.StatusUnprocessableEntity); er.Message != "Reference already exists" {
		t.Fatalf("message = %q", er.Message)
	}
	_, _, err = client.Git.GetRef(ctx, "org", "manifests", "heads/nope")
	errorResponse(t, err, http.StatusNotFound)

	gh.ProtectBranch("org/manifests", "main")
	_, _, err = client.Git.UpdateRef(ctx, "org", "manifests", &github.Reference{Ref: github.String("refs/heads/main"), Object: &github.GitObject{SHA: stale.SHA}}, true)
	if er := errorResponse(t, err, http.StatusUnprocessableEntity); !strings.Contains(er.Message, "Protected branch update failed") {
		t.Fatalf("message = %q", er.Message)
	}
}

func TestCompareReportsRenames(t *testing.T) {
	gh := harness.StartGitHub(t)
	local := harness.NewGitRepo(t, "")
	local.WriteFile("src/cart/main.go", strings.Repeat("package main // cart service\n", 20))
	base := local.Commit("cart")
	local.Rename("src/cart/main.go", "src/basket/main.go")
	head := local.Commit("rename cart to basket")
	local.PushTo(gh, "org/app")
	cmp, _, err := gh.Client(gh.Token).Repositories.CompareCommits(context.Background(), "org", "app", base, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Files) != 1 || cmp.Files[0].GetStatus() != "renamed" || cmp.Files[0].GetPreviousFilename() != "src/cart/main.go" ||
		cmp.Files[0].GetFilename() != "src/basket/main.go" {
		t.Fatalf("files = %+v", cmp.Files)
	}
}

func TestAuthErrorsAndBothAPIRoots(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		client *github.Client
		repo   string
		status int
		msg    string
	}{
		{"bad token", gh.Client("ghp_wrong"), "manifests", http.StatusUnauthorized, "Bad credentials"},
		{"unknown repo", gh.Client(gh.Token), "nope", http.StatusNotFound, "Not Found"},
		{"root api", rootClient(t, gh, gh.Token), "manifests", http.StatusOK, ""},
		{"enterprise api", gh.Client(gh.Token), "manifests", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo, resp, err := tc.client.Repositories.Get(ctx, "org", tc.repo)
			if tc.status == http.StatusOK {
				if err != nil || repo.GetDefaultBranch() != "main" || resp.Rate.Limit != 5000 {
					t.Fatalf("get repo = %v, %v (rate %+v)", repo.GetDefaultBranch(), err, resp.Rate)
				}
				return
			}
			if er := errorResponse(t, err, tc.status); er.Message != tc.msg || er.DocumentationURL == "" {
				t.Fatalf("error = %q (doc %q), want %q", er.Message, er.DocumentationURL, tc.msg)
			}
		})
	}
}

func rootClient(t *testing.T, gh *harness.GitHub, token string) *github.Client {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(token)
	u, err := c.BaseURL.Parse(gh.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

func TestRateLimitAndFaultInjection(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	client := gh.Client(gh.Token)
	reset := time.Now().Add(time.Minute)
	f := harness.RateLimited(reset)
	f.Method, f.Path = http.MethodGet, `^/repos/org/manifests$`
	gh.InjectFault(t, f)
	_, resp, err := client.Repositories.Get(ctx, "org", "manifests")
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || resp.StatusCode != http.StatusForbidden || rl.Rate.Remaining != 0 || rl.Rate.Reset.Unix() != reset.Unix() {
		t.Fatalf("rate limited get = %v (%T), status %d", err, err, resp.StatusCode)
	}
	// go-github remembers the primary limit until reset; a fresh client sees the next request pass.
	if _, _, err := gh.Client(gh.Token).Repositories.Get(ctx, "org", "manifests"); err != nil {
		t.Fatalf("request after the injected fault: %v", err)
	}

	sf := harness.SecondaryRateLimited(http.StatusForbidden, 3*time.Second)
	sf.Method = http.MethodPost
	gh.InjectFault(t, sf)
	_, _, err = gh.Client(gh.Token).Git.CreateBlob(ctx, "org", "manifests", &github.Blob{Content: github.String("x"), Encoding: github.String("utf-8")})
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) || abuse.GetRetryAfter() != 3*time.Second {
		t.Fatalf("secondary limit = %v (%T)", err, err)
	}

	bad := harness.ServerError(http.StatusBadGateway)
	bad.Skip, bad.Times = 1, 2
	bad.Path = `/git/ref/`
	gh.InjectFault(t, bad)
	statuses := []int{}
	fresh := gh.Client(gh.Token)
	for i := 0; i < 4; i++ {
		_, resp, _ := fresh.Git.GetRef(ctx, "org", "manifests", "heads/main")
		statuses = append(statuses, resp.StatusCode)
	}
	if want := []int{200, 502, 502, 200}; !equalInts(statuses, want) {
		t.Fatalf("statuses = %v, want %v", statuses, want)
	}
	if n := gh.Calls("GET /repos/{owner}/{repo}/git/ref/{ref...}"); n != 4 {
		t.Fatalf("ref GETs counted = %d, want 4", n)
	}

	// A fault no request reached is dropped by ClearFaults.
	gh.InjectFault(t, harness.ServerError(http.StatusServiceUnavailable))
	if gh.PendingFaults() != 1 {
		t.Fatalf("pending faults = %d, want 1", gh.PendingFaults())
	}
	gh.ClearFaults()
	if _, resp, err := fresh.Git.GetRef(ctx, "org", "manifests", "heads/main"); err != nil || gh.PendingFaults() != 0 {
		t.Fatalf("after ClearFaults: %v (status %d), %d pending", err, resp.StatusCode, gh.PendingFaults())
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSmartHTTPCloneAndPush(t *testing.T) {
	gh, _ := manifestsRepo(t)
	clone := harness.Clone(t, gh.AuthCloneURL("org/manifests", gh.Token), harness.Depth(1))
	if got := clone.ReadFile("envs/dev/values.yaml"); got != "image:\n  tag: v1\n" {
		t.Fatalf("cloned file = %q", got)
	}
	if n := clone.Git("rev-list", "--count", "HEAD"); n != "1" {
		t.Fatalf("shallow clone has %s commits", n)
	}
	clone.WriteFile("envs/dev/values.yaml", "image:\n  tag: pushed\n")
	sha := clone.Commit("push over http")
	clone.Git("push", "-q", "origin", "HEAD:main")
	if got, _ := gh.RevParse("org/manifests", "main"); got != sha {
		t.Fatalf("main after push = %s, want %s", got, sha)
	}

	anon := harness.NewGitRepo(t, "")
	if _, err := anon.TryGit("ls-remote", gh.CloneURL("org/manifests")); err == nil {
		t.Fatal("ls-remote without credentials succeeded")
	}
	if _, err := anon.TryGit("ls-remote", gh.AuthCloneURL("org/manifests", "ghp_wrong")); err == nil {
		t.Fatal("ls-remote with a wrong token succeeded")
	}

	gh.ProtectBranch("org/manifests", "main")
	clone.WriteFile("envs/dev/values.yaml", "image:\n  tag: blocked\n")
	clone.Commit("blocked push")
	out, err := clone.TryGit("push", "origin", "HEAD:main")
	if err == nil || !strings.Contains(out+err.Error(), "GH006: Protected branch update failed") {
		t.Fatalf("push to protected branch: %v %s", err, out)
	}
}

func TestAppInstallationFlow(t *testing.T) {
	gh, _ := manifestsRepo(t)
	ctx := context.Background()
	app := gh.RegisterApp("automator", nil)
	instID := gh.InstallApp(app, "org")

	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, app.ID, app.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	atr.BaseURL = gh.APIURL
	appClient, err := github.NewClient(&http.Client{Transport: atr}).WithEnterpriseURLs(gh.APIURL+"/", gh.APIURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	inst, _, err := appClient.Apps.FindRepositoryInstallation(ctx, "org", "manifests")
	if err != nil || inst.GetID() != instID {
		t.Fatalf("installation = %d, %v; want %d", inst.GetID(), err, instID)
	}

	itr := ghinstallation.NewFromAppsTransport(atr, instID)
	itr.BaseURL = gh.APIURL
	client, err := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(gh.APIURL+"/", gh.APIURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := client.Git.GetRef(ctx, "org", "manifests", "heads/main")
	if err != nil {
		t.Fatalf("API call with installation token: %v", err)
	}
	parent, _, err := client.Git.GetCommit(ctx, "org", "manifests", ref.GetObject().GetSHA())
	if err != nil {
		t.Fatal(err)
	}
	commit, _, err := client.Git.CreateCommit(ctx, "org", "manifests", &github.Commit{
		Message: github.String("app commit"), Tree: parent.Tree, Parents: []*github.Commit{{SHA: parent.SHA}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !commit.GetVerification().GetVerified() || commit.GetAuthor().GetName() != "automator[bot]" {
		t.Fatalf("App commit verified=%v author=%q", commit.GetVerification().GetVerified(), commit.GetAuthor().GetName())
	}
	rec, ok := gh.Commit("org/manifests", commit.GetSHA())
	if !ok || rec.Identity.Kind != harness.IdentityInstallation || rec.CustomAuthor || rec.Identity.InstallationID != instID {
		t.Fatalf("commit record = %+v", rec)
	}
	if n := gh.Calls("POST /app/installations/{id}/access_tokens"); n != 1 {
		t.Fatalf("token mints = %d, want 1 (cached)", n)
	}

	tests := []struct {
		name     string
		iat, exp time.Time
		msg      string
	}{
		{"expired", time.Now().Add(-20 * time.Minute), time.Now().Add(-10 * time.Minute), "'Expiration time' claim ('exp') must be"},
		{"too far", time.Now(), time.Now().Add(30 * time.Minute), "too far in the future"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jwt, err := app.SignAppJWT(tc.iat, tc.exp)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = gh.Client(jwt).Apps.CreateInstallationToken(ctx, instID, nil)
			if er := errorResponse(t, err, http.StatusUnauthorized); !strings.Contains(er.Message, tc.msg) {
				t.Fatalf("message = %q, want %q", er.Message, tc.msg)
			}
		})
	}
	other := gh.RegisterApp("impostor", nil)
	forged, err := other.SignAppJWT(time.Now(), time.Now().Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = gh.Client(forged).Apps.CreateInstallationToken(ctx, instID, nil)
	errorResponse(t, err, http.StatusNotFound) // valid JWT of another App: that installation is not its own
	wrongKey := &harness.App{ID: app.ID, PrivateKeyPEM: other.PrivateKeyPEM}
	forged, err = wrongKey.SignAppJWT(time.Now(), time.Now().Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = gh.Client(forged).Apps.CreateInstallationToken(ctx, instID, nil)
	if er := errorResponse(t, err, http.StatusUnauthorized); er.Message != "A JSON web token could not be decoded" {
		t.Fatalf("wrong key message = %q", er.Message)
	}

	gh.ExpireInstallationTokens()
	tok, _, err := appClient.Apps.CreateInstallationToken(ctx, instID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Client(tok.GetToken()).Repositories.Get(ctx, "org", "manifests"); err != nil {
		t.Fatalf("fresh installation token: %v", err)
	}
	if tok.GetExpiresAt().Before(time.Now().Add(59 * time.Minute)) {
		t.Fatalf("expires_at = %v, want about an hour ahead", tok.GetExpiresAt())
	}
}
