package chatops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// RepositoriesAPI is the slice of go-github's RepositoriesService ChatOps uses.
type RepositoriesAPI interface {
	GetPermissionLevel(ctx context.Context, owner, repo, user string) (*github.RepositoryPermissionLevel, *github.Response, error)
}

// IssuesAPI is the slice of go-github's IssuesService ChatOps uses.
type IssuesAPI interface {
	ListComments(ctx context.Context, owner, repo string, number int, opts *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error)
	CreateComment(ctx context.Context, owner, repo string, number int, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
}

// ReactionsAPI is the slice of go-github's ReactionsService ChatOps uses.
type ReactionsAPI interface {
	CreateIssueCommentReaction(ctx context.Context, owner, repo string, id int64, content string) (*github.Reaction, *github.Response, error)
}

// API bundles the narrow service interfaces; NewAPI adapts a client.
type API struct {
	Repositories RepositoriesAPI
	Issues       IssuesAPI
	Reactions    ReactionsAPI
}

// NewAPI adapts a go-github client.
func NewAPI(c *github.Client) API {
	return API{Repositories: c.Repositories, Issues: c.Issues, Reactions: c.Reactions}
}

var (
	_ RepositoriesAPI = (*github.RepositoriesService)(nil)
	_ IssuesAPI       = (*github.IssuesService)(nil)
	_ ReactionsAPI    = (*github.ReactionsService)(nil)
)

// Work does what commands ask. Promoter (promotion and rollback through
// internal/promote, status through internal/status) implements it.
type Work interface {
	// Promote proposes for t its upstream's digests of services (all when
	// none).
	Promote(ctx context.Context, t *promote.Target, services []string) (*gitops.Result, error)
	// Rollback proposes t's image values at commit to ("" = the commit
	// before the latest change).
	// Rollback rolls t back to commit to, holding what it rolls back in the
	// name of by, for reason.
	Rollback(ctx context.Context, t *promote.Target, to, by, reason string) (*gitops.Result, error)
	// Status is the what-runs-where matrix as Markdown.
	Status(ctx context.Context) (string, error)
	// Hold stops automated promotion of service ("" = every service) in t,
	// in the name of by, for reason, through t's usual mode.
	Hold(ctx context.Context, t *promote.Target, service, by, reason string) (*gitops.Result, error)
	// Release lets automation promote service ("" = the environment's own
	// hold) in t again, accepting a revert that holds it.
	Release(ctx context.Context, t *promote.Target, service, by, reason string) (*gitops.Result, error)
}

// Handler answers one comment.
type Handler struct {
	API API
	// Owner and Repo are the repository the comment is in.
	Owner, Repo string
	Targets     promote.Targets
	Work        Work
	Policy      Policy
	Logger      *zap.Logger
}

// Outcome is what Handle did.
type Outcome struct {
	// Skipped says why the comment was left alone ("" when it was handled).
	Skipped string
	// Refused is true when the commenter may not run the command.
	Refused bool
	// Reply is the comment posted; Result the promotion's result, if any.
	Reply  string
	Result *gitops.Result
}

// marker ties a reply to the comment it answers: a re-delivered event finds
// it and does nothing.
func marker(id int64) string { return fmt.Sprintf("<!-- automator:chatops reply-to=%d -->", id) }

// Reactions: eyes acknowledges; rocket is done; confused is refused or failed.
const (
	reactSeen   = "eyes"
	reactDone   = "rocket"
	reactFailed = "confused"
)

// Handle runs the command in comment c, at most once per comment id. Only
// newly created comments by people are commands: an edited comment is not
// run again (post a new one), and a bot's comment (including automator's
// own replies) never is. The returned error is the command's failure,
// already answered on the issue.
func (h *Handler) Handle(ctx context.Context, c *event.CommentInfo) (*Outcome, error) {
	cmd, ok := Parse(c.Body)
	switch {
	case !ok:
		return &Outcome{Skipped: "the comment holds no " + Prefix + " command"}, nil
	case c.Action != "created":
		return &Outcome{Skipped: "the comment was " + c.Action + "; only new comments run commands"}, nil
	case c.Bot:
		return &Outcome{Skipped: "the comment is by a bot (" + c.Author + ")"}, nil
	}
	answered, err := h.answered(ctx, c)
	if err != nil {
		return nil, err
	}
	if answered {
		return &Outcome{Skipped: fmt.Sprintf("comment %d was already answered", c.ID)}, nil
	}
	h.react(ctx, c.ID, reactSeen)
	spec, known := lookup(cmd.Name)
	if !known {
		msg := "I don't know that command."
		if cmd.Name == "" {
			msg = "Which command?"
		}
		return h.answer(ctx, c, &Outcome{}, msg+"\n\n"+Help(), reactFailed)
	}
	req, err := spec.Parse(cmd.Args)
	if err != nil {
		return h.answer(ctx, c, &Outcome{}, fmt.Sprintf("%s\n\nUsage: `%s`", err.(*UsageError).Msg, spec.Usage), reactFailed)
	}
	var t *promote.Target
	if req.Env != "" {
		ts, err := h.Targets.Lookup(req.Env)
		if err != nil {
			return h.answer(ctx, c, &Outcome{}, capitalize(err.Error())+".", reactFailed)
		}
		t = ts[0]
	}
	need := h.Policy.Need(req, t)
	perm, _, err := h.API.Repositories.GetPermissionLevel(ctx, h.Owner, h.Repo, c.Author)
	if err != nil {
		return nil, fmt.Errorf("reading %s's permission on %s/%s: %w", c.Author, h.Owner, h.Repo, err)
	}
	if role := Role(perm); !Allows(role, need) {
		what := req.Verb
		if t != nil {
			what += " " + t.Name()
		}
		return h.answer(ctx, c, &Outcome{Refused: true},
			fmt.Sprintf("@%s, `%s` needs the **%s** role on %s/%s; you have **%s**. Nothing was done.", c.Author, what, need, h.Owner, h.Repo, role), reactFailed)
	}
	return h.run(ctx, c, req, t)
}

// run does the work and answers with its result.
func (h *Handler) run(ctx context.Context, c *event.CommentInfo, req Request, t *promote.Target) (*Outcome, error) {
	var res *gitops.Result
	var err error
	switch req.Verb {
	case "status":
		md, err := h.Work.Status(ctx)
		if err != nil {
			return h.fail(ctx, c, err)
		}
		return h.answer(ctx, c, &Outcome{}, md, reactDone)
	case "promote":
		res, err = h.Work.Promote(ctx, t, req.Services)
	case "rollback":
		res, err = h.Work.Rollback(ctx, t, req.To, c.Author, h.where(c, "rollback"))
	case "hold":
		res, err = h.Work.Hold(ctx, t, first(req.Services), c.Author, req.Reason+" ("+h.where(c, "hold")+")")
	case "release":
		res, err = h.Work.Release(ctx, t, first(req.Services), c.Author, h.where(c, "release"))
	}
	if err != nil && res == nil {
		return h.fail(ctx, c, err)
	}
	out := &Outcome{Result: res}
	o, aerr := h.answer(ctx, c, out, describe(req, t, res, err), map[bool]string{true: reactDone, false: reactFailed}[err == nil])
	if aerr != nil {
		return o, aerr
	}
	return o, err
}

// where names the comment a command came from, for reasons and trailers.
func (h *Handler) where(c *event.CommentInfo, verb string) string {
	return fmt.Sprintf("%s %s by @%s in %s/%s#%d", Prefix, verb, c.Author, h.Owner, h.Repo, c.Issue)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func (h *Handler) fail(ctx context.Context, c *event.CommentInfo, err error) (*Outcome, error) {
	o, aerr := h.answer(ctx, c, &Outcome{}, "That failed: "+err.Error(), reactFailed)
	if aerr != nil {
		return o, errors.Join(err, aerr)
	}
	return o, err
}

// describe says what a promotion or rollback did, for the reply.
func describe(req Request, t *promote.Target, res *gitops.Result, err error) string {
	var b strings.Builder
	switch {
	case res.PR != nil && (res.PR.Created || res.PR.Updated):
		verb := "Opened"
		if !res.PR.Created {
			verb = "Updated"
		}
		fmt.Fprintf(&b, "%s pull request #%d to %s %s: %s\n", verb, res.PR.Number, req.Verb, t.Name(), res.PR.URL)
	case res.Commit != "":
		fmt.Fprintf(&b, "Committed %s to %s: %s\n", short(res.Commit), t.Name(), res.CommitURL)
	case req.Verb == "hold" || req.Verb == "release":
		fmt.Fprintf(&b, "Nothing to change: %s's holds file already says that.\n", t.Name())
	default:
		fmt.Fprintf(&b, "%s already runs that: nothing to %s.\n", t.Name(), req.Verb)
	}
	for _, u := range res.Updates {
		fmt.Fprintf(&b, "\n- %s: `%s`", u.Service, u.Ref())
	}
	for _, h := range res.Held {
		fmt.Fprintf(&b, "\n- %s: held, not promoted (%s)", h.Service, h.Reason)
	}
	if err != nil {
		fmt.Fprintf(&b, "\n\nBut: %s", err)
	}
	return b.String()
}

// answer posts the reply (with the marker) and the final reaction.
func (h *Handler) answer(ctx context.Context, c *event.CommentInfo, o *Outcome, text, reaction string) (*Outcome, error) {
	o.Reply = marker(c.ID) + "\n" + text
	if r := []rune(o.Reply); len(r) > gitops.MaxBody {
		o.Reply = string(r[:gitops.MaxBody-1]) + "…"
	}
	if _, _, err := h.API.Issues.CreateComment(ctx, h.Owner, h.Repo, c.Issue, &github.IssueComment{Body: github.String(o.Reply)}); err != nil {
		return o, fmt.Errorf("answering comment %d on %s/%s#%d: %w", c.ID, h.Owner, h.Repo, c.Issue, err)
	}
	h.react(ctx, c.ID, reaction)
	return o, nil
}

// react adds a reaction; a failure is logged, never fatal (the reply says
// everything the reaction does).
func (h *Handler) react(ctx context.Context, id int64, content string) {
	if _, _, err := h.API.Reactions.CreateIssueCommentReaction(ctx, h.Owner, h.Repo, id, content); err != nil && h.Logger != nil {
		h.Logger.Warn("reacting to a comment", zap.Int64("comment", id), zap.String("reaction", content), zap.Error(err))
	}
}

// answered reports whether a reply to c exists (a re-delivered event, or a
// re-run workflow).
func (h *Handler) answered(ctx context.Context, c *event.CommentInfo) (bool, error) {
	m := marker(c.ID)
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := h.API.Issues.ListComments(ctx, h.Owner, h.Repo, c.Issue, opts)
		if err != nil {
			return false, fmt.Errorf("listing comments of %s/%s#%d: %w", h.Owner, h.Repo, c.Issue, err)
		}
		for _, x := range cs {
			if strings.Contains(x.GetBody(), m) {
				return true, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return false, nil
		}
		opts.Page = resp.NextPage
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
