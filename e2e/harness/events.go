package harness

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Event is a GitHub Actions event: its name (GITHUB_EVENT_NAME) and payload (the GITHUB_EVENT_PATH JSON).
type Event struct {
	Name    string
	Payload map[string]any
	// SHA and Ref are what the runner sets as GITHUB_SHA and GITHUB_REF for this event.
	SHA, Ref string
}

// EventRepo describes the repository a payload refers to.
type EventRepo struct {
	// FullName is OWNER/NAME.
	FullName      string
	DefaultBranch string
}

func (g *GitHub) eventRepoJSON(r EventRepo) map[string]any {
	owner, name, _ := strings.Cut(r.FullName, "/")
	def := r.DefaultBranch
	if def == "" {
		def = "main"
	}
	return map[string]any{
		"id": idFor(r.FullName), "name": name, "full_name": r.FullName, "private": true, "default_branch": def,
		"owner":    map[string]any{"login": owner, "name": owner, "id": idFor(owner), "type": "Organization"},
		"html_url": g.URL + "/" + r.FullName, "url": g.APIURL + "/repos/" + r.FullName,
		"clone_url": g.URL + "/" + r.FullName + ".git",
	}
}

// PushEvent builds a push event for ref (e.g. "refs/heads/main" or "refs/tags/v1.2.0") moving from before to
// after. before is all zeros for a new branch or tag; forced marks a force push.
func (g *GitHub) PushEvent(repo EventRepo, ref, before, after string, forced bool) Event {
	created := before == zeroSHA
	deleted := after == zeroSHA
	var baseRef any
	payload := map[string]any{
		"ref": ref, "before": before, "after": after, "created": created, "deleted": deleted, "forced": forced,
		"base_ref": baseRef, "compare": g.URL + "/" + repo.FullName + "/compare/" + short(before) + "..." + short(after),
		"commits": []any{}, "head_commit": map[string]any{"id": after, "tree_id": nil, "distinct": true},
		"repository": g.eventRepoJSON(repo), "pusher": map[string]any{"name": "app-developer", "email": "dev@example.com"},
		"sender": g.userJSON("app-developer"),
	}
	if deleted {
		payload["head_commit"] = nil
	}
	return Event{Name: "push", Payload: payload, SHA: after, Ref: ref}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// PullRequestEvent builds a pull_request event (action "opened", "synchronize", …) for a PR from head to
// base; GITHUB_SHA is the test merge commit on GitHub, here mergeSHA, and GITHUB_REF refs/pull/N/merge.
func (g *GitHub) PullRequestEvent(repo EventRepo, action string, number int, baseRef, baseSHA, headRef, headSHA, mergeSHA string) Event {
	owner, _, _ := strings.Cut(repo.FullName, "/")
	r := g.eventRepoJSON(repo)
	branch := func(ref, sha string) map[string]any {
		return map[string]any{"label": owner + ":" + ref, "ref": ref, "sha": sha, "repo": r, "user": r["owner"]}
	}
	pr := map[string]any{
		"number": number, "state": "open", "title": "change", "draft": false, "merged": false,
		"html_url": g.URL + "/" + repo.FullName + "/pull/" + strconv.Itoa(number),
		"base":     branch(baseRef, baseSHA), "head": branch(headRef, headSHA), "merge_commit_sha": mergeSHA,
		"user": g.userJSON("app-developer"),
	}
	payload := map[string]any{
		"action": action, "number": number, "pull_request": pr, "repository": r, "sender": g.userJSON("app-developer"),
	}
	return Event{Name: "pull_request", Payload: payload, SHA: mergeSHA, Ref: "refs/pull/" + strconv.Itoa(number) + "/merge"}
}

// MergeGroupEvent builds a merge_group "checks_requested" event for a merge queue entry whose temporary
// branch head is headSHA on top of baseSHA of baseRef (e.g. "refs/heads/main").
func (g *GitHub) MergeGroupEvent(repo EventRepo, baseRef, baseSHA, headSHA string) Event {
	headRef := "refs/heads/gh-readonly-queue/" + strings.TrimPrefix(baseRef, "refs/heads/") + "/pr-1-" + headSHA
	payload := map[string]any{
		"action": "checks_requested",
		"merge_group": map[string]any{
			"head_sha": headSHA, "head_ref": headRef, "base_sha": baseSHA, "base_ref": baseRef,
			"head_commit": map[string]any{"id": headSHA, "tree_id": nil, "message": "Merge queue entry"},
		},
		"repository": g.eventRepoJSON(repo), "sender": g.userJSON("app-developer"),
	}
	return Event{Name: "merge_group", Payload: payload, SHA: headSHA, Ref: headRef}
}

// WorkflowDispatchEvent builds a workflow_dispatch event run on ref (e.g. "refs/heads/main") at sha.
func (g *GitHub) WorkflowDispatchEvent(repo EventRepo, ref, sha string, inputs map[string]string) Event {
	in := map[string]any{}
	for k, v := range inputs {
		in[k] = v
	}
	payload := map[string]any{
		"ref": ref, "inputs": in, "workflow": ".github/workflows/deploy.yml",
		"repository": g.eventRepoJSON(repo), "sender": g.userJSON("app-developer"),
	}
	return Event{Name: "workflow_dispatch", Payload: payload, SHA: sha, Ref: ref}
}

// ActionsEnv writes the event payload to a file and returns the environment a GitHub Actions runner would
// give a step for it: Env(repo) plus GITHUB_ACTIONS, CI, GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_SHA,
// GITHUB_REF, GITHUB_REF_NAME, GITHUB_REF_TYPE, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY (empty files the test
// can read afterwards), RUNNER_TEMP, GITHUB_WORKSPACE (workspace, may be empty) and run identifiers.
func (g *GitHub) ActionsEnv(t testing.TB, repo string, ev Event, workspace string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	env := g.Env(repo)
	b, err := json.MarshalIndent(ev.Payload, "", "  ")
	if err != nil {
		t.Fatalf("encoding %s event: %v", ev.Name, err)
	}
	files := map[string]string{"GITHUB_EVENT_PATH": "event.json", "GITHUB_OUTPUT": "output", "GITHUB_STEP_SUMMARY": "summary.md", "GITHUB_ENV": "env"}
	for key, name := range files {
		p := filepath.Join(dir, name)
		content := []byte{}
		if key == "GITHUB_EVENT_PATH" {
			content = b
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatalf("writing %s: %v", p, err)
		}
		env[key] = p
	}
	refType, refName := "branch", ev.Ref
	if n, ok := strings.CutPrefix(ev.Ref, "refs/tags/"); ok {
		refType, refName = "tag", n
	} else if n, ok := strings.CutPrefix(ev.Ref, "refs/heads/"); ok {
		refName = n
	} else if n, ok := strings.CutPrefix(ev.Ref, "refs/pull/"); ok {
		refName = n
	}
	runnerTemp := filepath.Join(dir, "runner-temp")
	if err := os.MkdirAll(runnerTemp, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": ev.Name, "GITHUB_SHA": ev.SHA,
		"GITHUB_REF": ev.Ref, "GITHUB_REF_NAME": refName, "GITHUB_REF_TYPE": refType, "GITHUB_WORKSPACE": workspace,
		"RUNNER_TEMP": runnerTemp, "GITHUB_RUN_ID": "1001", "GITHUB_RUN_NUMBER": "1", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_ACTOR": "app-developer", "GITHUB_WORKFLOW": "deploy", "GITHUB_JOB": "deploy",
	} {
		env[k] = v
	}
	return env
}
