package harness

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// chatState is what PR-comment commands need of GitHub: collaborators'
// roles per repository and reactions on issue comments.
type chatState struct {
	mu        sync.Mutex
	roles     map[string]string // "owner/name\x00login" (lower case) → admin, maintain, write, triage, read
	reactions map[int64][]Reaction
}

// Reaction is one reaction on an issue comment.
type Reaction struct {
	ID      int64
	User    string
	Content string
	Created time.Time
}

// reactionContents are the reactions GitHub accepts.
var reactionContents = map[string]bool{"+1": true, "-1": true, "laugh": true, "confused": true, "heart": true, "hooray": true, "rocket": true, "eyes": true}

// roleRank orders GitHub's repository roles.
var roleRank = map[string]int{"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}

// SetRole makes login a collaborator of repo with a role (admin, maintain,
// write, triage or read), registering the user.
func (g *GitHub) SetRole(repoName, login, role string) {
	g.t.Helper()
	if _, ok := roleRank[role]; !ok || role == "none" {
		g.t.Fatalf("SetRole: unknown role %q", role)
	}
	g.AddUser(login)
	g.chat.mu.Lock()
	defer g.chat.mu.Unlock()
	if g.chat.roles == nil {
		g.chat.roles = map[string]string{}
	}
	g.chat.roles[strings.ToLower(repoName+"\x00"+login)] = role
}

// AddComment posts a comment as login on pull request number of repo, as a
// person would in the web UI, and returns its id.
func (g *GitHub) AddComment(repoName string, number int, login, body string) int64 {
	g.t.Helper()
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	if repo.pull(number) == nil {
		g.t.Fatalf("%s has no pull request #%d", repoName, number)
	}
	g.mu.Lock()
	g.nextID++
	id := g.nextID
	g.mu.Unlock()
	repo.comments = append(repo.comments, IssueComment{ID: id, Number: number, Author: login, Body: body})
	return id
}

// Reactions returns the reactions on issue comment id, oldest first.
func (g *GitHub) Reactions(id int64) []Reaction {
	g.chat.mu.Lock()
	defer g.chat.mu.Unlock()
	return append([]Reaction(nil), g.chat.reactions[id]...)
}

// CommentEvent is the issue_comment webhook payload for comment id on pull
// request number of repo (action created or edited).
func (g *GitHub) CommentEvent(repo EventRepo, action string, number int, id int64) Event {
	g.t.Helper()
	r := g.mustRepo(repo.FullName)
	r.mu.Lock()
	var cm *IssueComment
	for i := range r.comments {
		if r.comments[i].ID == id {
			cm = &r.comments[i]
		}
	}
	r.mu.Unlock()
	if cm == nil {
		g.t.Fatalf("%s has no comment %d", repo.FullName, id)
	}
	return Event{Name: "issue_comment", Ref: "refs/heads/" + repo.DefaultBranch, Payload: map[string]any{
		"action": action,
		"issue": map[string]any{"number": number, "pull_request": map[string]any{
			"url": fmt.Sprintf("%s/repos/%s/pulls/%d", g.APIURL, repo.FullName, number)}},
		"comment":    g.commentJSON(r, *cm),
		"repository": g.eventRepoJSON(repo),
		"sender":     g.userJSON(cm.Author),
	}}
}

func (g *GitHub) chatRoutes() {
	const repo = "/repos/{owner}/{repo}"
	g.route("GET "+repo+"/collaborators/{user}/permission", authToken, "metadata:read", g.getPermission)
	g.route("POST "+repo+"/issues/comments/{id}/reactions", authToken, "issues:write|pull_requests:write", g.createReaction)
	g.route("GET "+repo+"/issues/comments/{id}/reactions", authToken, "issues:read|pull_requests:read", g.listReactions)
}

// getPermission answers like GitHub: permission is the legacy level (admin,
// write, read, none: maintain counts as write, triage as read), role_name
// the role, and user.permissions the flags; an unknown user is 404, a user
// who is no collaborator has none. The repository's owner is admin.
func (g *GitHub) getPermission(c *call) {
	login := c.r.PathValue("user")
	g.mu.Lock()
	known := g.users[strings.ToLower(login)]
	g.mu.Unlock()
	g.chat.mu.Lock()
	role, ok := g.chat.roles[strings.ToLower(c.repo.fullName()+"\x00"+login)]
	g.chat.mu.Unlock()
	if strings.EqualFold(login, c.repo.owner) {
		role, ok, known = "admin", true, true
	}
	if !known && !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	if !ok {
		role = "none"
	}
	legacy := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read", "none": "none"}[role]
	rank := roleRank[role]
	user := g.userJSON(login)
	user["permissions"] = map[string]bool{"admin": rank >= 5, "maintain": rank >= 4, "push": rank >= 3, "triage": rank >= 2, "pull": rank >= 1}
	user["role_name"] = role
	c.json(http.StatusOK, map[string]any{"permission": legacy, "role_name": role, "user": user})
}

// commentExists reports whether repo has issue comment id.
func (c *call) commentExists(id int64) bool {
	c.repo.mu.Lock()
	defer c.repo.mu.Unlock()
	for _, cm := range c.repo.comments {
		if cm.ID == id {
			return true
		}
	}
	return false
}

func (g *GitHub) reactionJSON(r Reaction) map[string]any {
	return map[string]any{"id": r.ID, "node_id": fmt.Sprintf("REA_%d", r.ID), "user": g.userJSON(r.User),
		"content": r.Content, "created_at": r.Created.UTC().Format(time.RFC3339)}
}

// createReaction answers 201 for a new reaction and 200 with the existing
// one when the user already reacted with that content; 422 for a content
// GitHub does not know; 404 for an unknown comment.
func (g *GitHub) createReaction(c *call) {
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil || !c.commentExists(id) {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	var body struct {
		Content *string `json:"content"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Content == nil || !reactionContents[*body.Content] {
		c.validation(map[string]any{"resource": "Reaction", "field": "content", "code": "invalid"})
		return
	}
	g.chat.mu.Lock()
	defer g.chat.mu.Unlock()
	for _, r := range g.chat.reactions[id] {
		if r.User == c.id.Login && r.Content == *body.Content {
			c.json(http.StatusOK, g.reactionJSON(r))
			return
		}
	}
	if g.chat.reactions == nil {
		g.chat.reactions = map[int64][]Reaction{}
	}
	g.mu.Lock()
	g.nextID++
	r := Reaction{ID: g.nextID, User: c.id.Login, Content: *body.Content, Created: time.Now()}
	g.mu.Unlock()
	g.chat.reactions[id] = append(g.chat.reactions[id], r)
	c.json(http.StatusCreated, g.reactionJSON(r))
}

func (g *GitHub) listReactions(c *call) {
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil || !c.commentExists(id) {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	content := c.r.URL.Query().Get("content")
	out := []map[string]any{}
	for _, r := range g.Reactions(id) {
		if content == "" || r.Content == content {
			out = append(out, g.reactionJSON(r))
		}
	}
	c.json(http.StatusOK, paginate(c, out))
}
