package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type pullState struct {
	number        int
	id            int64
	head, base    string // branch names in the same repository
	title, body   string
	draft         bool
	state         string // open, closed
	merged        bool
	mergeSHA      string
	headSHA       string // frozen when closed or merged
	author        string
	labels        []string
	reviewers     []string
	teams         []string
	assignees     []string
	created       time.Time
	updated       time.Time
	closed        time.Time
	maintainerMod bool
}

// PullRequest is a snapshot of a pull request held by the fake.
type PullRequest struct {
	Number        int
	Head, Base    string
	Title, Body   string
	Draft         bool
	State         string
	Merged        bool
	Author        string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	Assignees     []string
}

func (p *pullState) snapshot() PullRequest {
	return PullRequest{
		Number: p.number, Head: p.head, Base: p.base, Title: p.title, Body: p.body, Draft: p.draft, State: p.state,
		Merged: p.merged, Author: p.author, Labels: slices.Clone(p.labels), Reviewers: slices.Clone(p.reviewers),
		TeamReviewers: slices.Clone(p.teams), Assignees: slices.Clone(p.assignees),
	}
}

// PullRequests returns snapshots of every pull request of the repository, oldest first.
func (g *GitHub) PullRequests(repoName string) []PullRequest {
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	out := make([]PullRequest, 0, len(repo.pulls))
	for _, p := range repo.pulls {
		out = append(out, p.snapshot())
	}
	return out
}

// PullByHead returns the newest pull request of the repository whose head branch is head (and, when
// state is not empty, whose state is state), or nil.
func (g *GitHub) PullByHead(repoName, head, state string) *PullRequest {
	var found *PullRequest
	for _, p := range g.PullRequests(repoName) {
		if p.Head == head && (state == "" || p.State == state) {
			found = &p
		}
	}
	return found
}

// MergePull merges an open pull request with a real merge commit (git merge-tree) into its base, as the
// "Merge pull request" button does, bypassing branch protection, and returns the merge commit SHA.
func (g *GitHub) MergePull(repoName string, number int) string {
	g.t.Helper()
	repo, p, unlock := g.lockedPull(repoName, number)
	defer unlock()
	sha, err := g.mergePull(context.Background(), repo, p, "automator-bot")
	if err != nil {
		g.t.Fatalf("merging %s#%d: %v", repoName, number, err)
	}
	return sha
}

// ClosePull closes a pull request without merging it.
func (g *GitHub) ClosePull(repoName string, number int) {
	g.t.Helper()
	repo, p, unlock := g.lockedPull(repoName, number)
	defer unlock()
	g.closePull(context.Background(), repo, p)
}

// lockedPull returns a pull request with its repository locked; the caller must call unlock.
func (g *GitHub) lockedPull(repoName string, number int) (*repoState, *pullState, func()) {
	g.t.Helper()
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	p := repo.pull(number)
	if p == nil {
		repo.mu.Unlock()
		g.t.Fatalf("%s has no pull request #%d", repoName, number)
	}
	return repo, p, repo.mu.Unlock
}

func (r *repoState) pull(number int) *pullState {
	for _, p := range r.pulls {
		if p.number == number {
			return p
		}
	}
	return nil
}

func (g *GitHub) closePull(ctx context.Context, repo *repoState, p *pullState) {
	p.headSHA = g.refSHA(ctx, repo, "refs/heads/"+p.head)
	p.state, p.closed, p.updated = "closed", time.Now(), time.Now()
}

var errMergeConflict = fmt.Errorf("merge conflict")

func (g *GitHub) mergePull(ctx context.Context, repo *repoState, p *pullState, by string) (string, error) {
	if p.state != "open" {
		return "", fmt.Errorf("pull request #%d is %s", p.number, p.state)
	}
	base := g.refSHA(ctx, repo, "refs/heads/"+p.base)
	head := g.refSHA(ctx, repo, "refs/heads/"+p.head)
	if base == "" || head == "" {
		return "", fmt.Errorf("branches of #%d are missing", p.number)
	}
	out, err := g.gitIn(ctx, repo.gitDir, nil, nil, "merge-tree", "--write-tree", "--no-messages", base, head)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errMergeConflict, err)
	}
	tree := strings.Fields(out)[0]
	msg := fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", p.number, repo.owner, p.head, p.title)
	env := []string{"GIT_AUTHOR_NAME=" + by, "GIT_AUTHOR_EMAIL=" + by + "@users.noreply.github.com",
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com"}
	sha, err := g.gitIn(ctx, repo.gitDir, []byte(msg), env, "commit-tree", tree, "-p", base, "-p", head, "-F", "-")
	if err != nil {
		return "", err
	}
	if _, err := g.gitIn(ctx, repo.gitDir, nil, nil, "update-ref", "refs/heads/"+p.base, sha, base); err != nil {
		return "", fmt.Errorf("base branch moved during merge: %w", err)
	}
	p.headSHA, p.mergeSHA, p.merged = head, sha, true
	p.state, p.closed, p.updated = "closed", time.Now(), time.Now()
	return sha, nil
}

func (g *GitHub) pullJSON(ctx context.Context, repo *repoState, p *pullState) map[string]any {
	full := repo.fullName()
	api := g.APIURL + "/repos/" + full
	html := fmt.Sprintf("%s/%s/pull/%d", g.URL, full, p.number)
	headSHA, baseSHA := p.headSHA, g.refSHA(ctx, repo, "refs/heads/"+p.base)
	if p.state == "open" {
		headSHA = g.refSHA(ctx, repo, "refs/heads/"+p.head)
	}
	branch := func(ref, sha string) map[string]any {
		return map[string]any{"label": repo.owner + ":" + ref, "ref": ref, "sha": sha, "user": g.ownerJSON(repo.owner), "repo": g.repoJSON(repo)}
	}
	users := func(logins []string) []map[string]any {
		out := []map[string]any{}
		for _, l := range logins {
			out = append(out, g.userJSON(l))
		}
		return out
	}
	teams := []map[string]any{}
	for _, t := range p.teams {
		teams = append(teams, map[string]any{"slug": t, "name": t, "id": idFor(repo.owner + "/" + t)})
	}
	labels := []map[string]any{}
	for _, l := range p.labels {
		labels = append(labels, g.labelJSON(repo, l))
	}
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	var assignee any
	if len(p.assignees) > 0 {
		assignee = g.userJSON(p.assignees[0])
	}
	var mergedAt, mergeSHA any
	if p.merged {
		mergedAt, mergeSHA = ts(p.closed), p.mergeSHA
	}
	return map[string]any{
		"url": fmt.Sprintf("%s/pulls/%d", api, p.number), "id": p.id, "node_id": fmt.Sprintf("PR_%d", p.id),
		"html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch",
		"issue_url": fmt.Sprintf("%s/issues/%d", api, p.number), "number": p.number, "state": p.state,
		"locked": false, "title": p.title, "user": g.userJSON(p.author), "body": p.body, "labels": labels,
		"created_at": ts(p.created), "updated_at": ts(p.updated), "closed_at": ts(p.closed), "merged_at": mergedAt,
		"merge_commit_sha": mergeSHA, "assignee": assignee, "assignees": users(p.assignees),
		"requested_reviewers": users(p.reviewers), "requested_teams": teams,
		"head": branch(p.head, headSHA), "base": branch(p.base, baseSHA), "draft": p.draft, "merged": p.merged,
		"mergeable": nil, "maintainer_can_modify": p.maintainerMod, "author_association": "CONTRIBUTOR",
	}
}

func (g *GitHub) labelJSON(repo *repoState, name string) map[string]any {
	id, ok := repo.labels[name]
	if !ok {
		id = idFor(repo.fullName() + "#" + name)
		repo.labels[name] = id
	}
	return map[string]any{
		"id": id, "node_id": fmt.Sprintf("LA_%d", id), "name": name, "color": "ededed", "default": false,
		"description": nil, "url": g.APIURL + "/repos/" + repo.fullName() + "/labels/" + name,
	}
}

// headBranch parses the head of a pull request: "branch" or "owner:branch" of the same repository.
func headBranch(repo *repoState, head string) (string, bool) {
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		return branch, strings.EqualFold(owner, repo.owner)
	}
	return head, true
}

func (g *GitHub) createPull(c *call) {
	var body struct {
		Title               *string `json:"title"`
		Head                *string `json:"head"`
		Base                *string `json:"base"`
		Body                *string `json:"body"`
		Draft               bool    `json:"draft"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
		Issue               *int    `json:"issue"`
	}
	if !c.decode(&body) {
		return
	}
	missing := func(field string) map[string]any {
		return map[string]any{"resource": "PullRequest", "field": field, "code": "missing_field"}
	}
	switch {
	case body.Head == nil || *body.Head == "":
		c.validation(missing("head"))
		return
	case body.Base == nil || *body.Base == "":
		c.validation(missing("base"))
		return
	case (body.Title == nil || *body.Title == "") && body.Issue == nil:
		c.validation(missing("title"))
		return
	case body.Issue != nil:
		c.validation(map[string]any{"resource": "PullRequest", "field": "issue", "code": "invalid"})
		return
	case !textWithinLimits(c, body.Title, body.Body):
		return
	case body.Draft && c.repo.noDrafts:
		c.validation(map[string]any{"resource": "PullRequest", "code": "custom",
			"message": "Draft pull requests are not supported in this repository."})
		return
	}
	ctx := c.r.Context()
	repo := c.repo
	head, sameRepo := headBranch(repo, *body.Head)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	baseSHA := g.refSHA(ctx, repo, "refs/heads/"+*body.Base)
	headSHA := g.refSHA(ctx, repo, "refs/heads/"+head)
	if baseSHA == "" {
		c.validation(map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"})
		return
	}
	if !sameRepo || headSHA == "" {
		c.validation(map[string]any{"resource": "PullRequest", "field": "head", "code": "invalid"})
		return
	}
	for _, p := range repo.pulls {
		if p.state == "open" && p.head == head && p.base == *body.Base {
			c.validation(map[string]any{"resource": "PullRequest", "code": "custom",
				"message": "A pull request already exists for " + repo.owner + ":" + head + "."})
			return
		}
	}
	if n, err := g.gitIn(ctx, repo.gitDir, nil, nil, "rev-list", "--count", baseSHA+".."+headSHA, "--"); err != nil || n == "0" {
		c.validation(map[string]any{"resource": "PullRequest", "code": "custom",
			"message": "No commits between " + *body.Base + " and " + head})
		return
	}
	g.mu.Lock()
	g.nextID++
	id := g.nextID
	g.mu.Unlock()
	now := time.Now()
	p := &pullState{
		number: g.nextIssueNumber(repo), id: id, head: head, base: *body.Base, title: *body.Title, draft: body.Draft,
		state: "open", author: c.id.Login, created: now, updated: now, maintainerMod: body.MaintainerCanModify == nil || *body.MaintainerCanModify,
	}
	if body.Body != nil {
		p.body = *body.Body
	}
	repo.pulls = append(repo.pulls, p)
	c.w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/pulls/%d", g.APIURL, repo.fullName(), p.number))
	c.json(http.StatusCreated, g.pullJSON(ctx, repo, p))
}

func (g *GitHub) nextIssueNumber(repo *repoState) int {
	return len(repo.pulls) + 1
}

func (g *GitHub) listPulls(c *call) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		c.validation(map[string]any{"resource": "PullRequest", "field": "state", "code": "invalid"})
		return
	}
	// GitHub filters by head only in the "owner:branch" form; a bare branch name is ignored.
	headOwner, headRef, headFilter := strings.Cut(q.Get("head"), ":")
	ctx := c.r.Context()
	c.repo.mu.Lock()
	var matched []*pullState
	for _, p := range c.repo.pulls {
		if state != "all" && p.state != state {
			continue
		}
		if headFilter && (!strings.EqualFold(headOwner, c.repo.owner) || p.head != headRef) {
			continue
		}
		if b := q.Get("base"); b != "" && p.base != b {
			continue
		}
		matched = append(matched, p)
	}
	asc := q.Get("direction") == "asc"
	sort.SliceStable(matched, func(i, j int) bool {
		a, b := matched[i], matched[j]
		if q.Get("sort") == "updated" {
			return a.updated.After(b.updated) != asc
		}
		return (a.number > b.number) != asc
	})
	out := []map[string]any{}
	for _, p := range paginate(c, matched) {
		out = append(out, g.pullJSON(ctx, c.repo, p))
	}
	c.repo.mu.Unlock()
	c.json(http.StatusOK, out)
}

// withPull runs fn with the repository locked and the pull request named by {number}, or answers 404.
func (g *GitHub) withPull(c *call, fn func(p *pullState)) {
	n, err := strconv.Atoi(c.r.PathValue("number"))
	c.repo.mu.Lock()
	defer c.repo.mu.Unlock()
	p := c.repo.pull(n)
	if err != nil || p == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	fn(p)
}

func (g *GitHub) getPull(c *call) {
	g.withPull(c, func(p *pullState) {
		c.json(http.StatusOK, g.pullJSON(c.r.Context(), c.repo, p))
	})
}

func (g *GitHub) updatePull(c *call) {
	var body struct {
		Title               *string `json:"title"`
		Body                *string `json:"body"`
		State               *string `json:"state"`
		Base                *string `json:"base"`
		MaintainerCanModify *bool   `json:"maintainer_can_modify"`
	}
	if !c.decode(&body) || !textWithinLimits(c, body.Title, body.Body) {
		return
	}
	ctx := c.r.Context()
	g.withPull(c, func(p *pullState) {
		if body.State != nil && *body.State != "open" && *body.State != "closed" {
			c.validation(map[string]any{"resource": "PullRequest", "field": "state", "code": "invalid"})
			return
		}
		if body.Base != nil && g.refSHA(ctx, c.repo, "refs/heads/"+*body.Base) == "" {
			c.validation(map[string]any{"resource": "PullRequest", "field": "base", "code": "invalid"})
			return
		}
		if body.State != nil && *body.State == "open" && p.state == "closed" {
			if p.merged {
				c.validation(map[string]any{"resource": "PullRequest", "code": "custom", "message": "Cannot reopen a merged pull request"})
				return
			}
			if g.refSHA(ctx, c.repo, "refs/heads/"+p.head) == "" {
				c.validation(map[string]any{"resource": "PullRequest", "code": "custom", "message": "Cannot reopen a pull request whose head branch was deleted"})
				return
			}
			for _, o := range c.repo.pulls {
				if o != p && o.state == "open" && o.head == p.head && o.base == p.base {
					c.validation(map[string]any{"resource": "PullRequest", "code": "custom",
						"message": "A pull request already exists for " + c.repo.owner + ":" + p.head + "."})
					return
				}
			}
			p.state, p.closed = "open", time.Time{}
		}
		if body.Title != nil {
			p.title = *body.Title
		}
		if body.Body != nil {
			p.body = *body.Body
		}
		if body.Base != nil {
			p.base = *body.Base
		}
		if body.MaintainerCanModify != nil {
			p.maintainerMod = *body.MaintainerCanModify
		}
		if body.State != nil && *body.State == "closed" && p.state == "open" {
			g.closePull(ctx, c.repo, p)
		}
		p.updated = time.Now()
		c.json(http.StatusOK, g.pullJSON(ctx, c.repo, p))
	})
}

func (g *GitHub) mergePullAPI(c *call) {
	g.withPull(c, func(p *pullState) {
		if p.state != "open" {
			c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
			return
		}
		sha, err := g.mergePull(c.r.Context(), c.repo, p, c.id.Login)
		if err != nil {
			c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
			return
		}
		c.json(http.StatusOK, map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
	})
}

// decodeNames reads {"<key>": [...]} or, when allowBare, a bare JSON array of strings.
func decodeNames(c *call, key string, allowBare bool) ([]string, bool) {
	var raw json.RawMessage
	if !c.decode(&raw) {
		return nil, false
	}
	var names []string
	if allowBare && json.Unmarshal(raw, &names) == nil {
		return names, true
	}
	var obj map[string][]string
	if err := json.Unmarshal(raw, &obj); err != nil {
		c.invalid(fmt.Sprintf("%q is not an array of strings.", key))
		return nil, false
	}
	if _, ok := obj[key]; !ok {
		c.invalid(fmt.Sprintf("%q wasn't supplied.", key))
		return nil, false
	}
	return obj[key], true
}

func appendUnique(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

func (g *GitHub) addLabels(c *call) {
	names, ok := decodeNames(c, "labels", true)
	if !ok {
		return
	}
	g.withPull(c, func(p *pullState) {
		for _, n := range names {
			if strings.TrimSpace(n) == "" {
				c.validation(map[string]any{"resource": "Label", "field": "name", "code": "missing_field"})
				return
			}
		}
		p.labels = appendUnique(p.labels, names...)
		p.updated = time.Now()
		out := []map[string]any{}
		for _, l := range p.labels {
			out = append(out, g.labelJSON(c.repo, l))
		}
		c.json(http.StatusOK, out)
	})
}

func (g *GitHub) listLabels(c *call) {
	g.withPull(c, func(p *pullState) {
		out := []map[string]any{}
		for _, l := range p.labels {
			out = append(out, g.labelJSON(c.repo, l))
		}
		c.json(http.StatusOK, paginate(c, out))
	})
}

func (g *GitHub) requestReviewers(c *call) {
	var body struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if !c.decode(&body) {
		return
	}
	g.withPull(c, func(p *pullState) {
		g.mu.Lock()
		unknown := false
		for _, r := range body.Reviewers {
			unknown = unknown || !g.users[strings.ToLower(r)]
		}
		for _, t := range body.TeamReviewers {
			unknown = unknown || !g.teams[strings.ToLower(c.repo.owner+"/"+t)]
		}
		g.mu.Unlock()
		for _, r := range body.Reviewers {
			if strings.EqualFold(r, p.author) {
				c.validation(map[string]any{"resource": "PullRequest", "code": "custom",
					"message": "Review cannot be requested from pull request author."})
				return
			}
		}
		if unknown {
			c.validation(map[string]any{"resource": "PullRequest", "code": "custom", "field": "requested_reviewers",
				"message": "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the " + c.repo.fullName() + " repository."})
			return
		}
		p.reviewers = appendUnique(p.reviewers, body.Reviewers...)
		p.teams = appendUnique(p.teams, body.TeamReviewers...)
		p.updated = time.Now()
		c.json(http.StatusCreated, g.pullJSON(c.r.Context(), c.repo, p))
	})
}

// addAssignees adds known users as assignees; like GitHub, unknown logins are silently ignored.
func (g *GitHub) addAssignees(c *call) {
	names, ok := decodeNames(c, "assignees", false)
	if !ok {
		return
	}
	g.withPull(c, func(p *pullState) {
		g.mu.Lock()
		for _, n := range names {
			if g.users[strings.ToLower(n)] && len(p.assignees) < 10 {
				p.assignees = appendUnique(p.assignees, n)
			}
		}
		g.mu.Unlock()
		p.updated = time.Now()
		pr := g.pullJSON(c.r.Context(), c.repo, p)
		issue := map[string]any{
			"id": p.id, "number": p.number, "title": p.title, "body": p.body, "state": p.state, "user": pr["user"],
			"labels": pr["labels"], "assignee": pr["assignee"], "assignees": pr["assignees"],
			"html_url": pr["html_url"], "url": pr["issue_url"],
			"pull_request": map[string]any{"url": pr["url"], "html_url": pr["html_url"]},
		}
		c.json(http.StatusCreated, issue)
	})
}

// GitHub's limits on issue and pull request text, in characters.
const (
	// MaxTitle is the longest title GitHub accepts.
	MaxTitle = 256
	// MaxBody is the longest pull request body or comment GitHub accepts.
	MaxBody = 65536
)

// textWithinLimits answers GitHub's 422 for a title or body past its limit and reports whether both fit.
func textWithinLimits(c *call, title, body *string) bool {
	tooLong := func(field string, limit int) {
		c.validation(map[string]any{"resource": "Issue", "code": "custom", "field": field,
			"message": fmt.Sprintf("%s is too long (maximum is %d characters)", field, limit)})
	}
	switch {
	case title != nil && utf8.RuneCountInString(*title) > MaxTitle:
		tooLong("title", MaxTitle)
		return false
	case body != nil && utf8.RuneCountInString(*body) > MaxBody:
		tooLong("body", MaxBody)
		return false
	}
	return true
}

// DisableDraftPulls makes the repository refuse draft pull requests with GitHub's 422.
func (g *GitHub) DisableDraftPulls(repoName string) {
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	repo.noDrafts = true
}

// IssueComment is a comment on a pull request held by the fake.
type IssueComment struct {
	ID     int64
	Number int
	Author string
	Body   string
}

// Comments returns the comments on pull request number, oldest first.
func (g *GitHub) Comments(repoName string, number int) []IssueComment {
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	var out []IssueComment
	for _, cm := range repo.comments {
		if cm.Number == number {
			out = append(out, cm)
		}
	}
	return out
}

func (g *GitHub) commentJSON(repo *repoState, cm IssueComment) map[string]any {
	return map[string]any{
		"id": cm.ID, "node_id": fmt.Sprintf("IC_%d", cm.ID), "body": cm.Body, "user": g.userJSON(cm.Author),
		"url":       fmt.Sprintf("%s/repos/%s/issues/comments/%d", g.APIURL, repo.fullName(), cm.ID),
		"html_url":  fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", g.URL, repo.fullName(), cm.Number, cm.ID),
		"issue_url": fmt.Sprintf("%s/repos/%s/issues/%d", g.APIURL, repo.fullName(), cm.Number),
	}
}

func (g *GitHub) createComment(c *call) {
	var body struct {
		Body *string `json:"body"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Body == nil || *body.Body == "" {
		c.validation(map[string]any{"resource": "IssueComment", "field": "body", "code": "missing_field"})
		return
	}
	if utf8.RuneCountInString(*body.Body) > MaxBody {
		c.validation(map[string]any{"resource": "IssueComment", "code": "custom", "field": "body",
			"message": fmt.Sprintf("body is too long (maximum is %d characters)", MaxBody)})
		return
	}
	g.withPull(c, func(p *pullState) {
		g.mu.Lock()
		g.nextID++
		id := g.nextID
		g.mu.Unlock()
		cm := IssueComment{ID: id, Number: p.number, Author: c.id.Login, Body: *body.Body}
		c.repo.comments = append(c.repo.comments, cm)
		c.json(http.StatusCreated, g.commentJSON(c.repo, cm))
	})
}

// listReviews answers with no reviews: the fake has no way to submit one.
func (g *GitHub) listReviews(c *call) {
	g.withPull(c, func(*pullState) { c.json(http.StatusOK, []any{}) })
}

func (g *GitHub) listComments(c *call) {
	g.withPull(c, func(p *pullState) {
		out := []map[string]any{}
		for _, cm := range c.repo.comments {
			if cm.Number == p.number {
				out = append(out, g.commentJSON(c.repo, cm))
			}
		}
		c.json(http.StatusOK, paginate(c, out))
	})
}
