package harness

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// CommitStatus is one commit status as GitHub records it (POST /statuses/{sha}).
type CommitStatus struct {
	ID          int64
	SHA         string
	State       string // error, failure, pending, success
	Context     string
	Description string
	TargetURL   string
	Creator     string
	Created     time.Time
}

// statusRoutes registers commit statuses and label removal, with GitHub's semantics: a status is
// attached to a commit (not a branch), the newest per context wins, and the combined state is failure
// when any context's latest is error or failure, pending when any is pending (or there is none), else
// success.
func (g *GitHub) statusRoutes(repo string) {
	g.route("POST "+repo+"/statuses/{sha}", authToken, "statuses:write", g.createStatus)
	g.route("GET "+repo+"/commits/{ref}/statuses", authToken, "statuses:read", g.listStatuses)
	g.route("GET "+repo+"/commits/{ref}/status", authToken, "statuses:read", g.combinedStatus)
	g.route("DELETE "+repo+"/issues/{number}/labels/{name}", authToken, "issues:write|pull_requests:write", g.removeLabel)
}

// Statuses returns the statuses of a commit, newest first.
func (g *GitHub) Statuses(repoName, sha string) []CommitStatus {
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	out := slices.Clone(repo.statuses[sha])
	slices.Reverse(out)
	return out
}

// LatestStatus returns the newest status of context on sha (ok false when there is none).
func (g *GitHub) LatestStatus(repoName, sha, context string) (CommitStatus, bool) {
	for _, s := range g.Statuses(repoName, sha) {
		if s.Context == context {
			return s, true
		}
	}
	return CommitStatus{}, false
}

func (g *GitHub) statusJSON(repo *repoState, s CommitStatus) map[string]any {
	return map[string]any{
		"id": s.ID, "node_id": "SC_" + s.SHA[:7], "state": s.State, "context": s.Context, "description": nilIfEmpty(s.Description),
		"target_url": nilIfEmpty(s.TargetURL), "url": g.APIURL + "/repos/" + repo.fullName() + "/statuses/" + s.SHA,
		"creator": g.userJSON(s.Creator), "created_at": s.Created.UTC().Format(time.RFC3339), "updated_at": s.Created.UTC().Format(time.RFC3339),
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (g *GitHub) createStatus(c *call) {
	var body struct {
		State       string  `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if !c.decode(&body) {
		return
	}
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, body.State) {
		c.validation(map[string]any{"resource": "Status", "field": "state", "code": "custom",
			"message": "state is not included in the list"})
		return
	}
	sha, err := g.resolveCommit(c.r.Context(), c.repo, c.r.PathValue("sha"))
	if err != nil || sha == "" || !strings.HasPrefix(sha, strings.ToLower(c.r.PathValue("sha"))) {
		c.validation(map[string]any{"resource": "Status", "field": "sha", "code": "custom",
			"message": "No commit found for SHA: " + c.r.PathValue("sha")})
		return
	}
	s := CommitStatus{SHA: sha, State: body.State, Context: "default", Creator: c.id.Login, Created: time.Now()}
	if body.Context != nil && *body.Context != "" {
		s.Context = *body.Context
	}
	if body.Description != nil {
		if len([]rune(*body.Description)) > 140 {
			c.validation(map[string]any{"resource": "Status", "field": "description", "code": "custom",
				"message": "description is too long (maximum is 140 characters)"})
			return
		}
		s.Description = *body.Description
	}
	if body.TargetURL != nil {
		s.TargetURL = *body.TargetURL
	}
	c.repo.mu.Lock()
	if c.repo.statuses == nil {
		c.repo.statuses = map[string][]CommitStatus{}
	}
	s.ID = int64(len(c.repo.statuses[sha])+1) + idFor(c.repo.fullName()+"@"+sha)%1000000*1000
	c.repo.statuses[sha] = append(c.repo.statuses[sha], s)
	c.repo.mu.Unlock()
	c.json(http.StatusCreated, g.statusJSON(c.repo, s))
}

// statusesOf resolves ref (a SHA, branch or tag) and returns its statuses, newest first.
func (g *GitHub) statusesOf(c *call) (string, []CommitStatus, bool) {
	sha, err := g.resolveCommit(c.r.Context(), c.repo, c.r.PathValue("ref"))
	if err != nil || sha == "" {
		c.fail(http.StatusNotFound, "No commit found for SHA: "+c.r.PathValue("ref"))
		return "", nil, false
	}
	c.repo.mu.Lock()
	out := slices.Clone(c.repo.statuses[sha])
	c.repo.mu.Unlock()
	slices.Reverse(out)
	return sha, out, true
}

func (g *GitHub) listStatuses(c *call) {
	_, ss, ok := g.statusesOf(c)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, s := range ss {
		out = append(out, g.statusJSON(c.repo, s))
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (g *GitHub) combinedStatus(c *call) {
	sha, ss, ok := g.statusesOf(c)
	if !ok {
		return
	}
	seen := map[string]bool{}
	latest := []map[string]any{}
	state := "success"
	for _, s := range ss {
		if seen[s.Context] {
			continue
		}
		seen[s.Context] = true
		latest = append(latest, g.statusJSON(c.repo, s))
		switch {
		case s.State == "error" || s.State == "failure":
			state = "failure"
		case s.State == "pending" && state != "failure":
			state = "pending"
		}
	}
	if len(latest) == 0 {
		state = "pending"
	}
	c.json(http.StatusOK, map[string]any{"state": state, "sha": sha, "total_count": len(latest), "statuses": latest,
		"repository": g.repoJSON(c.repo), "commit_url": g.APIURL + "/repos/" + c.repo.fullName() + "/commits/" + sha})
}

// removeLabel implements DELETE /issues/{number}/labels/{name}: 200 with the labels left, or 404
// "Label does not exist" when the issue does not carry it.
func (g *GitHub) removeLabel(c *call) {
	name := c.r.PathValue("name")
	g.withPull(c, func(p *pullState) {
		i := slices.IndexFunc(p.labels, func(l string) bool { return strings.EqualFold(l, name) })
		if i < 0 {
			c.fail(http.StatusNotFound, "Label does not exist")
			return
		}
		p.labels = slices.Delete(p.labels, i, i+1)
		p.updated = time.Now()
		out := []map[string]any{}
		for _, l := range p.labels {
			out = append(out, g.labelJSON(c.repo, l))
		}
		c.json(http.StatusOK, out)
	})
}
