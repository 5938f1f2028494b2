package chatops

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

func TestParse(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
		want Command
	}{
		{body: "/automator promote prod cart", ok: true, want: Command{Name: "promote", Args: []string{"prod", "cart"}}},
		{body: "LGTM\n  /automator Rollback prod --to abc\nthanks", ok: true, want: Command{Name: "rollback", Args: []string{"prod", "--to", "abc"}}},
		{body: "/automator", ok: true, want: Command{}},
		{body: "/automatorx promote prod"},
		{body: "see\n```\n/automator promote prod\n```"},
		{body: "no command here"},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.body)
		if ok != tt.ok || got.Name != tt.want.Name || strings.Join(got.Args, " ") != strings.Join(tt.want.Args, " ") {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.body, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("/automator promote prod a b")
	f.Add("```\n/automator status")
	f.Fuzz(func(t *testing.T, body string) {
		cmd, ok := Parse(body)
		if !ok {
			return
		}
		if !strings.Contains(body, Prefix) {
			t.Errorf("command %+v from a body without %s", cmd, Prefix)
		}
		if s, known := lookup(cmd.Name); known {
			_, _ = s.Parse(cmd.Args) // must not panic
		}
	})
}

func TestRollbackArgs(t *testing.T) {
	for _, tt := range []struct {
		args    string
		env, to string
		bad     bool
	}{
		{args: "prod", env: "prod"},
		{args: "prod --to abc", env: "prod", to: "abc"},
		{args: "--to=abc prod", env: "prod", to: "abc"},
		{args: "prod --to", bad: true},
		{args: "", bad: true},
		{args: "prod staging", bad: true},
	} {
		r, err := parseRollback(strings.Fields(tt.args))
		if (err != nil) != tt.bad || (!tt.bad && (r.Env != tt.env || r.To != tt.to)) {
			t.Errorf("rollback %q = %+v, %v", tt.args, r, err)
		}
	}
}

// fakeGitHub records what the handler asks of GitHub.
type fakeGitHub struct {
	roles     map[string]string // login → role
	comments  []*github.IssueComment
	reactions []string
}

func (f *fakeGitHub) GetPermissionLevel(_ context.Context, _, _, user string) (*github.RepositoryPermissionLevel, *github.Response, error) {
	role, ok := f.roles[user]
	if !ok {
		return nil, nil, errors.New("404 Not Found")
	}
	rank := rank(role)
	flags := map[string]bool{"admin": rank >= 5, "maintain": rank >= 4, "push": rank >= 3, "triage": rank >= 2, "pull": rank >= 1}
	legacy := map[string]string{"maintain": "write", "triage": "read"}[role]
	if legacy == "" {
		legacy = role
	}
	return &github.RepositoryPermissionLevel{Permission: github.String(legacy), User: &github.User{Login: github.String(user), Permissions: flags}}, nil, nil
}

func (f *fakeGitHub) ListComments(context.Context, string, string, int, *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error) {
	return f.comments, &github.Response{}, nil
}

func (f *fakeGitHub) CreateComment(_ context.Context, _, _ string, _ int, c *github.IssueComment) (*github.IssueComment, *github.Response, error) {
	f.comments = append(f.comments, c)
	return c, nil, nil
}

func (f *fakeGitHub) CreateIssueCommentReaction(_ context.Context, _, _ string, _ int64, content string) (*github.Reaction, *github.Response, error) {
	f.reactions = append(f.reactions, content)
	return &github.Reaction{Content: github.String(content)}, nil, nil
}

type fakeWork struct{ promoted []string }

func (w *fakeWork) Promote(_ context.Context, t *promote.Target, services []string) (*gitops.Result, error) {
	w.promoted = append(w.promoted, t.Name()+":"+strings.Join(services, ","))
	return &gitops.Result{PR: &gitops.PullRequest{Number: 12, URL: "https://gh/acme/m/pull/12", Created: true},
		Updates: []gitops.Update{{Service: "cart", Repository: "r/cart", Digest: "sha256:aa"}}}, nil
}

func (w *fakeWork) Rollback(context.Context, *promote.Target, string, string, string) (*gitops.Result, error) {
	return nil, errors.New("nothing to roll back")
}

func (w *fakeWork) Status(context.Context) (string, error) { return "| ENV |", nil }

func handler(t *testing.T, gh *fakeGitHub, w Work) *Handler {
	t.Helper()
	ts, err := promote.Resolve(&config.Config{Environments: []config.Environment{
		{Name: "dev", Repo: "acme/m"},
		{Name: "prod", Repo: "acme/m", PromoteFrom: "dev", PullRequest: config.PullRequest{Reviewers: []string{"oncall"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{API: API{Repositories: gh, Issues: gh, Reactions: gh}, Owner: "acme", Repo: "m", Targets: ts, Work: w, Policy: DefaultPolicy()}
}

func TestHandle(t *testing.T) {
	roles := map[string]string{"maint": "maintain", "dev": "write", "reader": "read"}
	tests := []struct {
		name, author, body, action string
		bot                        bool
		skipped, refused           bool
		promoted                   string
		reply                      string
		wantErr                    bool
	}{
		{name: "maintainer promotes prod", author: "maint", body: "/automator promote prod cart", promoted: "prod:cart", reply: "Opened pull request #12"},
		{name: "writer may not promote prod (reviewers)", author: "dev", body: "/automator promote prod", refused: true, reply: "needs the **maintain** role"},
		{name: "writer promotes dev", author: "dev", body: "/automator promote dev", promoted: "dev:", reply: "#12"},
		{name: "reader is refused", author: "reader", body: "/automator promote dev", refused: true, reply: "you have **read**"},
		{name: "reader sees status", author: "reader", body: "/automator status", reply: "| ENV |"},
		{name: "unknown command gets help", author: "reader", body: "/automator deploy prod", reply: "automator understands"},
		{name: "unknown environment", author: "maint", body: "/automator promote qa", reply: "Unknown environment"},
		{name: "bad usage", author: "maint", body: "/automator promote", reply: "Usage:"},
		{name: "failed rollback is answered", author: "maint", body: "/automator rollback prod", reply: "That failed: nothing to roll back", wantErr: true},
		{name: "bots are ignored", author: "automator[bot]", bot: true, body: "/automator promote prod", skipped: true},
		{name: "edits are ignored", author: "maint", action: "edited", body: "/automator promote prod", skipped: true},
		{name: "other comments are ignored", author: "maint", body: "ship it", skipped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh, w := &fakeGitHub{roles: roles}, &fakeWork{}
			h := handler(t, gh, w)
			action := tt.action
			if action == "" {
				action = "created"
			}
			c := &event.CommentInfo{Action: action, ID: 77, Body: tt.body, Author: tt.author, Bot: tt.bot, Issue: 5, OnPR: true}
			out, err := h.Handle(context.Background(), c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if (out.Skipped != "") != tt.skipped || out.Refused != tt.refused {
				t.Fatalf("outcome = %+v", out)
			}
			if strings.Join(w.promoted, " ") != tt.promoted {
				t.Errorf("promoted %v, want %q", w.promoted, tt.promoted)
			}
			if tt.skipped {
				if len(gh.comments)+len(gh.reactions) != 0 {
					t.Errorf("a skipped comment was answered: %v %v", gh.comments, gh.reactions)
				}
				return
			}
			if len(gh.comments) != 1 || !strings.Contains(gh.comments[0].GetBody(), tt.reply) || !strings.Contains(gh.comments[0].GetBody(), marker(77)) {
				t.Fatalf("replies = %v, want one with %q", gh.comments, tt.reply)
			}
			if len(gh.reactions) != 2 || gh.reactions[0] != "eyes" {
				t.Errorf("reactions = %v", gh.reactions)
			}
			// Re-delivered: the reply is found, nothing runs again.
			again, err := h.Handle(context.Background(), c)
			if err != nil || again.Skipped == "" || len(gh.comments) != 1 || len(w.promoted) > 1 {
				t.Errorf("re-delivery: %+v %v, %d replies, promoted %v", again, err, len(gh.comments), w.promoted)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	p := DefaultPolicy()
	if err := p.ParsePermissions([]string{"prod=write"}); err != nil {
		t.Fatal(err)
	}
	if err := p.ParsePermissions([]string{"prod=boss"}); err == nil {
		t.Error("unknown role accepted")
	}
	prod := &promote.Target{Env: config.Environment{Name: "prod", PullRequest: config.PullRequest{TeamReviewers: []string{"sre"}}}}
	staging := &promote.Target{Env: config.Environment{Name: "staging", PullRequest: config.PullRequest{TeamReviewers: []string{"sre"}}}}
	if got := p.Need(Request{Verb: "promote"}, prod); got != "write" {
		t.Errorf("prod override: %s", got)
	}
	if got := p.Need(Request{Verb: "promote"}, staging); got != "maintain" {
		t.Errorf("reviewed env: %s", got)
	}
	if !Allows("admin", "maintain") || Allows("write", "maintain") || Allows("triage", "write") {
		t.Error("role order")
	}
	legacy := &github.RepositoryPermissionLevel{Permission: github.String("write")}
	if Role(legacy) != "write" {
		t.Errorf("legacy role = %s", Role(legacy))
	}
}
