package gitops

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-github/v60/github"
)

// GitAPI is the slice of go-github's GitService the writer uses.
type GitAPI interface {
	GetRef(ctx context.Context, owner, repo, ref string) (*github.Reference, *github.Response, error)
	CreateRef(ctx context.Context, owner, repo string, ref *github.Reference) (*github.Reference, *github.Response, error)
	UpdateRef(ctx context.Context, owner, repo string, ref *github.Reference, force bool) (*github.Reference, *github.Response, error)
	GetTree(ctx context.Context, owner, repo, sha string, recursive bool) (*github.Tree, *github.Response, error)
	GetBlob(ctx context.Context, owner, repo, sha string) (*github.Blob, *github.Response, error)
	CreateTree(ctx context.Context, owner, repo, baseTree string, entries []*github.TreeEntry) (*github.Tree, *github.Response, error)
	GetCommit(ctx context.Context, owner, repo, sha string) (*github.Commit, *github.Response, error)
	CreateCommit(ctx context.Context, owner, repo string, commit *github.Commit, opts *github.CreateCommitOptions) (*github.Commit, *github.Response, error)
}

// PullRequestsAPI is the slice of go-github's PullRequestsService the writer uses.
type PullRequestsAPI interface {
	List(ctx context.Context, owner, repo string, opts *github.PullRequestListOptions) ([]*github.PullRequest, *github.Response, error)
	Create(ctx context.Context, owner, repo string, pull *github.NewPullRequest) (*github.PullRequest, *github.Response, error)
	Edit(ctx context.Context, owner, repo string, number int, pull *github.PullRequest) (*github.PullRequest, *github.Response, error)
	RequestReviewers(ctx context.Context, owner, repo string, number int, reviewers github.ReviewersRequest) (*github.PullRequest, *github.Response, error)
	ListReviews(ctx context.Context, owner, repo string, number int, opts *github.ListOptions) ([]*github.PullRequestReview, *github.Response, error)
}

// IssuesAPI is the slice of go-github's IssuesService the writer uses.
type IssuesAPI interface {
	AddLabelsToIssue(ctx context.Context, owner, repo string, number int, labels []string) ([]*github.Label, *github.Response, error)
	AddAssignees(ctx context.Context, owner, repo string, number int, assignees []string) (*github.Issue, *github.Response, error)
	ListComments(ctx context.Context, owner, repo string, number int, opts *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error)
	CreateComment(ctx context.Context, owner, repo string, number int, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
	RemoveLabelForIssue(ctx context.Context, owner, repo string, number int, label string) (*github.Response, error)
}

// RepositoriesAPI is the slice of go-github's RepositoriesService the writer uses.
type RepositoriesAPI interface {
	Get(ctx context.Context, owner, repo string) (*github.Repository, *github.Response, error)
	ListCommits(ctx context.Context, owner, repo string, opts *github.CommitsListOptions) ([]*github.RepositoryCommit, *github.Response, error)
	CreateStatus(ctx context.Context, owner, repo, ref string, status *github.RepoStatus) (*github.RepoStatus, *github.Response, error)
}

// API bundles the narrow service interfaces; go-github's services satisfy
// them (NewAPI) and tests fake them by hand.
type API struct {
	Git          GitAPI
	PullRequests PullRequestsAPI
	Issues       IssuesAPI
	Repositories RepositoriesAPI
}

// NewAPI adapts a go-github client.
func NewAPI(c *github.Client) API {
	return API{Git: c.Git, PullRequests: c.PullRequests, Issues: c.Issues, Repositories: c.Repositories}
}

var (
	_ GitAPI          = (*github.GitService)(nil)
	_ PullRequestsAPI = (*github.PullRequestsService)(nil)
	_ IssuesAPI       = (*github.IssuesService)(nil)
	_ RepositoriesAPI = (*github.RepositoriesService)(nil)
)

// ClientSource returns the API for one repository (a GitHub App has one
// installation per owner).
type ClientSource func(ctx context.Context, owner, repo string) (API, error)

// DryRun wraps a ClientSource so that reads reach GitHub and writes reach
// nothing: no blob, tree, commit, ref, pull request, label or review request
// is created. Writes answer with synthetic objects (never stored) so that the writer runs
// its normal path and reports the diff and the pull request it would open.
func DryRun(src ClientSource) ClientSource {
	return func(ctx context.Context, owner, repo string) (API, error) {
		api, err := src(ctx, owner, repo)
		if err != nil {
			return API{}, err
		}
		n := &atomic.Int64{}
		return API{
			Git:          &dryGit{GitAPI: api.Git, n: n, refs: map[string]*github.Reference{}},
			PullRequests: &dryPulls{PullRequestsAPI: api.PullRequests},
			Issues:       dryIssues{IssuesAPI: api.Issues},
			Repositories: dryRepos{RepositoriesAPI: api.Repositories},
		}, nil
	}
}

// DryRunSHA prefixes the names of the synthetic objects made under DryRun.
const DryRunSHA = "dry-run-"

// dryGit answers writes with synthetic objects and remembers the refs it
// pretended to move, so that the writer's read-after-write checks see its
// own (pretend) writes instead of concluding that a racing writer moved them.
type dryGit struct {
	GitAPI
	n *atomic.Int64

	mu   sync.Mutex
	refs map[string]*github.Reference // "heads/x" → pretend ref
}

func (d *dryGit) remember(ref *github.Reference) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refs[strings.TrimPrefix(ref.GetRef(), "refs/")] = ref
}

func (d *dryGit) GetRef(ctx context.Context, owner, repo, ref string) (*github.Reference, *github.Response, error) {
	d.mu.Lock()
	r, ok := d.refs[strings.TrimPrefix(ref, "refs/")]
	d.mu.Unlock()
	if ok {
		return r, nil, nil
	}
	return d.GitAPI.GetRef(ctx, owner, repo, ref)
}

func (d *dryGit) sha(kind string) *string {
	return github.String(fmt.Sprintf("%s%s-%d", DryRunSHA, kind, d.n.Add(1)))
}

func (d *dryGit) CreateRef(_ context.Context, _, _ string, ref *github.Reference) (*github.Reference, *github.Response, error) {
	d.remember(ref)
	return ref, nil, nil
}

func (d *dryGit) UpdateRef(_ context.Context, _, _ string, ref *github.Reference, _ bool) (*github.Reference, *github.Response, error) {
	d.remember(ref)
	return ref, nil, nil
}

func (d *dryGit) CreateTree(_ context.Context, _, _, _ string, entries []*github.TreeEntry) (*github.Tree, *github.Response, error) {
	return &github.Tree{SHA: d.sha("tree"), Entries: entries}, nil, nil
}

func (d *dryGit) CreateCommit(_ context.Context, _, _ string, c *github.Commit, _ *github.CreateCommitOptions) (*github.Commit, *github.Response, error) {
	out := *c
	out.SHA = d.sha("commit")
	return &out, nil, nil
}

type dryPulls struct{ PullRequestsAPI }

func (dryPulls) Create(_ context.Context, _, _ string, p *github.NewPullRequest) (*github.PullRequest, *github.Response, error) {
	return &github.PullRequest{Number: github.Int(0), Title: p.Title, Body: p.Body, HTMLURL: github.String("(dry run: not opened)")}, nil, nil
}

func (dryPulls) Edit(_ context.Context, _, _ string, number int, p *github.PullRequest) (*github.PullRequest, *github.Response, error) {
	out := *p
	out.Number = github.Int(number)
	return &out, nil, nil
}

func (dryPulls) RequestReviewers(context.Context, string, string, int, github.ReviewersRequest) (*github.PullRequest, *github.Response, error) {
	return nil, nil, nil
}

type dryIssues struct{ IssuesAPI }

func (dryIssues) CreateComment(_ context.Context, _, _ string, _ int, c *github.IssueComment) (*github.IssueComment, *github.Response, error) {
	return c, nil, nil
}

func (dryIssues) AddLabelsToIssue(context.Context, string, string, int, []string) ([]*github.Label, *github.Response, error) {
	return nil, nil, nil
}

func (dryIssues) RemoveLabelForIssue(context.Context, string, string, int, string) (*github.Response, error) {
	return nil, nil
}

type dryRepos struct{ RepositoriesAPI }

func (dryRepos) CreateStatus(_ context.Context, _, _, _ string, s *github.RepoStatus) (*github.RepoStatus, *github.Response, error) {
	return s, nil, nil
}

func (dryIssues) AddAssignees(context.Context, string, string, int, []string) (*github.Issue, *github.Response, error) {
	return nil, nil, nil
}
