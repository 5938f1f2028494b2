// Package event reads the GitHub Actions event that started a run into a
// typed value, so that stages decide what to do from fields rather than from
// raw JSON: which commit range changed (push, pull request, merge queue),
// which tag was pushed, which services a manual dispatch asked for.
//
// It reads GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REF and GITHUB_SHA
// through an injected getenv, never os.Getenv, so tests and the CLI control it.
// Outside Actions (GITHUB_EVENT_NAME unset) the result is an Event of Kind
// None: callers then take the commit range from flags.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Kind classifies the event by what change detection does with it.
type Kind string

// Event kinds.
const (
	// None: not running in GitHub Actions.
	None Kind = "none"
	// Push: commits pushed to a branch.
	Push Kind = "push"
	// TagPush: a tag was pushed (a push event whose ref is refs/tags/…).
	TagPush Kind = "tag"
	// PullRequest: pull_request or pull_request_target.
	PullRequest Kind = "pull_request"
	// MergeGroup: a merge queue group is tested.
	MergeGroup Kind = "merge_group"
	// Dispatch: workflow_dispatch, with inputs.
	Dispatch Kind = "workflow_dispatch"
	// Comment: issue_comment, a comment on an issue or pull request (the
	// ChatOps commands of internal/chatops).
	Comment Kind = "issue_comment"
	// Other: any other event (schedule, release, …); change detection has no
	// commit range for it.
	Other Kind = "other"
)

// Event is the typed GitHub event. Exactly the field matching Kind is set
// among PushInfo, Tag, PR, Group and Inputs.
type Event struct {
	// Kind is the classification used by change detection.
	Kind Kind
	// Name is GITHUB_EVENT_NAME as given (e.g. pull_request_target).
	Name string
	// Ref is GITHUB_REF (e.g. refs/heads/main, refs/tags/v1.2.3).
	Ref string
	// SHA is GITHUB_SHA, the commit the workflow runs on.
	SHA string
	// Repository is owner/name from the payload (empty when absent).
	Repository string
	// DefaultBranch is the repository's default branch from the payload.
	DefaultBranch string

	// PushInfo is set for Push and TagPush.
	PushInfo *PushInfo
	// Tag is the tag name without refs/tags/ for TagPush.
	Tag string
	// PR is set for PullRequest.
	PR *PRInfo
	// Group is set for MergeGroup.
	Group *GroupInfo
	// Comment is set for Comment.
	Comment *CommentInfo
	// Inputs holds workflow_dispatch inputs as strings (booleans and numbers
	// are formatted as JSON would print them).
	Inputs map[string]string
}

// PushInfo is the part of a push payload change detection needs.
type PushInfo struct {
	// Ref is the full pushed ref.
	Ref string
	// Before is the ref's previous commit; all zeros when the ref was created.
	Before string
	// After is the ref's new commit; all zeros when the ref was deleted.
	After string
	// Created is true for a new branch or tag.
	Created bool
	// Deleted is true when the ref was deleted.
	Deleted bool
	// Forced is true for a force push.
	Forced bool
}

// PRInfo is the part of a pull_request payload change detection needs.
type PRInfo struct {
	Number  int
	BaseRef string
	BaseSHA string
	HeadRef string
	HeadSHA string
	// Target is true for pull_request_target.
	Target bool
}

// CommentInfo is the part of an issue_comment payload ChatOps needs.
type CommentInfo struct {
	// Action is created, edited or deleted.
	Action string
	// ID is the comment's id: a command runs once per id.
	ID   int64
	Body string
	// Author is the commenter's login; Bot is true for a Bot account (an
	// App, or a login ending in [bot]).
	Author string
	Bot    bool
	// Issue is the issue or pull request number; OnPR is true on a pull
	// request.
	Issue int
	OnPR  bool
}

// GroupInfo is the part of a merge_group payload change detection needs.
type GroupInfo struct {
	BaseRef string
	BaseSHA string
	HeadRef string
	HeadSHA string
}

// Branch returns the branch name of a refs/heads/ ref, or "".
func Branch(ref string) string {
	b, ok := strings.CutPrefix(ref, "refs/heads/")
	if !ok {
		return ""
	}
	return b
}

// Error is a malformed or incomplete event payload. Commands exit with status 2.
type Error struct {
	Path string
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("GitHub event %s: %s", e.Path, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

type payload struct {
	Ref        string `json:"ref"`
	Before     string `json:"before"`
	After      string `json:"after"`
	Created    bool   `json:"created"`
	Deleted    bool   `json:"deleted"`
	Forced     bool   `json:"forced"`
	Repository *struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
	PullRequest *struct {
		Number int `json:"number"`
		Base   struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
		Head struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"head"`
	} `json:"pull_request"`
	MergeGroup *struct {
		BaseRef string `json:"base_ref"`
		BaseSHA string `json:"base_sha"`
		HeadRef string `json:"head_ref"`
		HeadSHA string `json:"head_sha"`
	} `json:"merge_group"`
	Inputs map[string]json.RawMessage `json:"inputs"`
	Action string                     `json:"action"`
	Issue  *struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		User struct {
			Login string `json:"login"`
			Type  string `json:"type"`
		} `json:"user"`
	} `json:"comment"`
}

// FromEnv reads the event of the current Actions run. Without
// GITHUB_EVENT_NAME it returns an Event of Kind None and no error. A set
// event name with a missing or malformed payload is an *Error.
func FromEnv(getenv func(string) string) (*Event, error) {
	name := getenv("GITHUB_EVENT_NAME")
	if name == "" {
		return &Event{Kind: None}, nil
	}
	path := getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return nil, &Error{Path: "(GITHUB_EVENT_PATH unset)", Msg: fmt.Sprintf("GITHUB_EVENT_NAME is %q but GITHUB_EVENT_PATH is not set", name)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Msg: "reading payload", Err: err}
	}
	return Parse(name, path, data, getenv("GITHUB_REF"), getenv("GITHUB_SHA"))
}

// Parse decodes a payload for event name; path names it in errors; ref and sha
// are GITHUB_REF and GITHUB_SHA.
func Parse(name, path string, data []byte, ref, sha string) (*Event, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, &Error{Path: path, Msg: "decoding payload JSON", Err: err}
	}
	ev := &Event{Name: name, Ref: ref, SHA: sha}
	if p.Repository != nil {
		ev.Repository, ev.DefaultBranch = p.Repository.FullName, p.Repository.DefaultBranch
	}
	bad := func(format string, args ...any) error {
		return &Error{Path: path, Msg: fmt.Sprintf("%s event: ", name) + fmt.Sprintf(format, args...)}
	}
	switch name {
	case "push":
		if p.Ref == "" {
			p.Ref = ref
		}
		if p.Ref == "" {
			return nil, bad("no ref in payload or GITHUB_REF")
		}
		if p.After == "" {
			return nil, bad("no after commit")
		}
		if p.Before == "" && !p.Created {
			return nil, bad("no before commit")
		}
		ev.PushInfo = &PushInfo{Ref: p.Ref, Before: p.Before, After: p.After, Created: p.Created || isZero(p.Before),
			Deleted: p.Deleted || isZero(p.After), Forced: p.Forced}
		if ev.Ref == "" {
			ev.Ref = p.Ref
		}
		if tag, ok := strings.CutPrefix(p.Ref, "refs/tags/"); ok {
			ev.Kind, ev.Tag = TagPush, tag
		} else {
			ev.Kind = Push
		}
	case "pull_request", "pull_request_target":
		if p.PullRequest == nil {
			return nil, bad("no pull_request object")
		}
		pr := p.PullRequest
		if pr.Base.SHA == "" || pr.Head.SHA == "" {
			return nil, bad("pull_request.base.sha and pull_request.head.sha are required")
		}
		ev.Kind = PullRequest
		ev.PR = &PRInfo{Number: pr.Number, BaseRef: pr.Base.Ref, BaseSHA: pr.Base.SHA, HeadRef: pr.Head.Ref,
			HeadSHA: pr.Head.SHA, Target: name == "pull_request_target"}
	case "merge_group":
		if p.MergeGroup == nil || p.MergeGroup.BaseSHA == "" || p.MergeGroup.HeadSHA == "" {
			return nil, bad("merge_group.base_sha and merge_group.head_sha are required")
		}
		g := p.MergeGroup
		ev.Kind = MergeGroup
		ev.Group = &GroupInfo{BaseRef: g.BaseRef, BaseSHA: g.BaseSHA, HeadRef: g.HeadRef, HeadSHA: g.HeadSHA}
	case "workflow_dispatch":
		ev.Kind = Dispatch
		ev.Inputs = map[string]string{}
		for k, raw := range p.Inputs {
			var s string
			if err := json.Unmarshal(raw, &s); err == nil {
				ev.Inputs[k] = s
			} else {
				ev.Inputs[k] = string(raw)
			}
		}
	case "issue_comment":
		if p.Comment == nil || p.Issue == nil || p.Comment.ID == 0 {
			return nil, bad("comment.id and issue are required")
		}
		u := p.Comment.User
		ev.Kind = Comment
		ev.Comment = &CommentInfo{Action: p.Action, ID: p.Comment.ID, Body: p.Comment.Body, Author: u.Login,
			Bot: u.Type == "Bot" || strings.HasSuffix(u.Login, "[bot]"), Issue: p.Issue.Number,
			OnPR: len(p.Issue.PullRequest) > 0 && string(p.Issue.PullRequest) != "null"}
	default:
		ev.Kind = Other
	}
	return ev, nil
}

func isZero(sha string) bool { return sha != "" && strings.Trim(sha, "0") == "" }

// ErrNoRange is returned by stages that need a commit range from an event kind
// that has none (schedule, release, …).
var ErrNoRange = errors.New("event carries no commit range")

// OwnerRepo is the owner/name of the repository the workflow runs for: the
// payload's, else GITHUB_REPOSITORY (read through getenv). It is safe on a
// nil event (no event outside Actions) and empty when neither is known.
func (e *Event) OwnerRepo(getenv func(string) string) string {
	if e != nil && e.Repository != "" {
		return e.Repository
	}
	return getenv("GITHUB_REPOSITORY")
}
