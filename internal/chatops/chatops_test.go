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
		Updates: []gitops.Update{{Service: "cart", Repository: "r/cart", Digest: "sha256:aa"}},
		Held:    []gitops.Held{{Service: "web", Reason: "held by mona: incident 42"}}}, nil
}

func (w *fakeWork) Rollback(context.Context, *promote.Target, string, string, string) (*gitops.Result, error) {
	return nil, errors.New("nothing to roll back")
}

func (w *fakeWork) Status(context.Context) (string, error) { return "| ENV |", nil }

func (w *fakeWork) Hold(_ context.Context, t *promote.Target, service, by, reason string) (*gitops.Result, error) {
	w.promoted = append(w.promoted, "hold "+t.Name()+":"+service+" by "+by+": "+reason)
	return &gitops.Result{Commit: "0123456789abcdef", CommitURL: "https://gh/acme/m/commit/0123456789abcdef"}, nil
}

func (w *fakeWork) Release(_ context.Context, t *promote.Target, service, by, _ string) (*gitops.Result, error) {
	w.promoted = append(w.promoted, "release "+t.Name()+":"+service+" by "+by)
	if service == "web" {
		return nil, errors.New("web in environment " + t.Name() + ": not held")
	}
	return &gitops.Result{PR: &gitops.PullRequest{Number: 13, URL: "https://gh/acme/m/pull/13", Created: true}}, nil
}

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
		{name: "a promotion's reply lists what stays held", author: "maint", body: "/automator promote prod", promoted: "prod:", reply: "- web: held, not promoted (held by mona: incident 42)"},
		{name: "writer may not promote prod (reviewers)", author: "dev", body: "/automator promote prod", refused: true, reply: "needs the **maintain** role"},
		{name: "writer promotes dev", author: "dev", body: "/automator promote dev", promoted: "dev:", reply: "#12"},
		{name: "reader is refused", author: "reader", body: "/automator promote dev", refused: true, reply: "you have **read**"},
		{name: "reader sees status", author: "reader", body: "/automator status", reply: "| ENV |"},
		{name: "unknown command gets help", author: "reader", body: "/automator deploy prod", reply: "automator understands"},
		{name: "unknown environment", author: "maint", body: "/automator promote qa", reply: "Unknown environment"},
		{name: "bad usage", author: "maint", body: "/automator promote", reply: "Usage:"},
		{name: "failed rollback is answered", author: "maint", body: "/automator rollback prod", reply: "That failed: nothing to roll back", wantErr: true},
		{name: "writer holds dev", author: "dev", body: "/automator hold dev cart --reason incident 42, see #9", promoted: "hold dev:cart by dev: incident 42, see #9 (/automator hold by @dev in acme/m#5)", reply: "Committed 0123456789ab to dev: https://gh/acme/m/commit/0123456789abcdef"},
		{name: "maintainer holds all of prod", author: "maint", body: "/automator hold prod --reason=freeze for the audit", promoted: "hold prod: by maint: freeze for the audit (/automator hold by @maint in acme/m#5)", reply: "Committed"},
		{name: "writer may not hold prod (as for promote)", author: "dev", body: "/automator hold prod cart --reason x", refused: true, reply: "`hold prod` needs the **maintain** role"},
		{name: "reader may not hold dev", author: "reader", body: "/automator hold dev --reason x", refused: true, reply: "you have **read**"},
		{name: "hold without a reason", author: "maint", body: "/automator hold prod cart", reply: "hold needs --reason"},
		{name: "maintainer releases prod", author: "maint", body: "/automator release prod cart", promoted: "release prod:cart by maint", reply: "Opened pull request #13 to release prod"},
		{name: "release of what is not held is answered", author: "maint", body: "/automator release dev web", promoted: "release dev:web by maint", reply: "That failed: web in environment dev: not held", wantErr: true},
		{name: "writer may not release prod", author: "dev", body: "/automator release prod", refused: true, reply: "needs the **maintain** role"},
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

func TestHoldArgs(t *testing.T) {
	for _, tt := range []struct {
		verb, args           string
		env, service, reason string
		bad                  string
	}{
		{verb: "hold", args: "prod --reason incident 42", env: "prod", reason: "incident 42"},
		{verb: "hold", args: "prod cart --reason=bad  rollout", env: "prod", service: "cart", reason: "bad rollout"},
		{verb: "hold", args: "prod cart --reason --force", env: "prod", service: "cart", reason: "--force"},
		{verb: "hold", args: "prod cart", bad: "needs --reason"},
		{verb: "hold", args: "prod cart --reason", bad: "needs --reason"},
		{verb: "hold", args: "--reason x", bad: "needs an environment"},
		{verb: "hold", args: "prod cart web --reason x", bad: "at most one service"},
		{verb: "hold", args: "prod --force --reason x", bad: "unknown flag"},
		{verb: "release", args: "prod", env: "prod"},
		{verb: "release", args: "prod cart", env: "prod", service: "cart"},
		{verb: "release", args: "", bad: "needs an environment"},
		{verb: "release", args: "prod cart web", bad: "at most one service"},
		{verb: "release", args: "prod --reason x", bad: "unknown flag"},
	} {
		spec, ok := lookup(tt.verb)
		if !ok {
			t.Fatalf("%s is not in the command table", tt.verb)
		}
		r, err := spec.Parse(strings.Fields(tt.args))
		if tt.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("%s %q: err = %v, want %q", tt.verb, tt.args, err, tt.bad)
			}
			continue
		}
		if err != nil || r.Verb != tt.verb || r.Env != tt.env || first(r.Services) != tt.service || r.Reason != tt.reason {
			t.Errorf("%s %q = %+v, %v", tt.verb, tt.args, r, err)
		}
	}
	if h := Help(); !strings.Contains(h, holdUsage) || !strings.Contains(h, releaseUsage) {
		t.Errorf("help lacks hold or release:\n%s", h)
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
