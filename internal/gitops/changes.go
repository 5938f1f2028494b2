package gitops

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/internal/config"
)

// Proposal is an open pull request on one of automator's branches for an
// environment (automator/<env> or automator/rollback-<env>).
type Proposal struct {
	Number int
	URL    string
	Branch string
	Title  string
	// Opened is when the pull request was opened (a git remote: when its
	// branch head was committed).
	Opened time.Time
}

// Changes reads an environment's past and pending changes, as `automator
// status` shows them: the commits that changed any of its files and
// automator's open proposals. GitHubWriter, LocalWriter and Router
// implement it; it writes nothing.
type Changes interface {
	// Changes returns up to limit commits that changed the environment's
	// files on its branch, newest first.
	Changes(ctx context.Context, env config.Environment, limit int) ([]Commit, error)
	// Proposals returns automator's open pull requests for the environment.
	Proposals(ctx context.Context, env config.Environment) ([]Proposal, error)
}

var (
	_ Changes = (*GitHubWriter)(nil)
	_ Changes = (*LocalWriter)(nil)
	_ Changes = Router{}
)

// proposalBranch reports whether branch is one automator opens for env.
func proposalBranch(env, branch string) bool {
	return branch == "automator/"+env || branch == "automator/rollback-"+env
}

// Changes implements Changes with one commits listing per environment file
// (GET /repos/{o}/{r}/commits?path=…), after the branch ref and the tree.
func (w *GitHubWriter) Changes(ctx context.Context, env config.Environment, limit int) ([]Commit, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	head, ok, err := t.head(ctx, t.branch)
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("environment %q: branch %q does not exist in %s", env.Name, t.branch, env.Repo)
	}
	snap, err := t.list(ctx, head, false)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Commit
	for _, f := range snap.files {
		cs, _, err := t.api.Repositories.ListCommits(ctx, t.owner, t.name, &github.CommitsListOptions{SHA: head, Path: f.Path, ListOptions: github.ListOptions{PerPage: min(max(limit, 1), 100)}})
		if err != nil {
			return nil, fmt.Errorf("environment %q: reading the history of %s: %w", env.Name, f.Path, err)
		}
		for _, c := range cs {
			if seen[c.GetSHA()] {
				continue
			}
			seen[c.GetSHA()] = true
			out = append(out, Commit{SHA: c.GetSHA(), Message: c.GetCommit().GetMessage(), Author: c.GetCommit().GetAuthor().GetName(),
				When: c.GetCommit().GetCommitter().GetDate().Time, URL: t.commitURL(c.GetSHA())})
		}
	}
	return newestFirst(out, limit), nil
}

// Proposals implements Changes with one pull request listing (open, on the
// environment's branch).
func (w *GitHubWriter) Proposals(ctx context.Context, env config.Environment) ([]Proposal, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	prs, _, err := t.api.PullRequests.List(ctx, t.owner, t.name, &github.PullRequestListOptions{State: "open", Base: t.branch, ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return nil, fmt.Errorf("environment %q: listing pull requests of %s: %w", env.Name, env.Repo, err)
	}
	var out []Proposal
	for _, pr := range prs {
		if b := pr.GetHead().GetRef(); proposalBranch(env.Name, b) {
			out = append(out, Proposal{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Branch: b, Title: pr.GetTitle(), Opened: pr.GetCreatedAt().Time})
		}
	}
	return out, nil
}

// Changes implements Changes with git log on a clone of the branch's history.
func (w *LocalWriter) Changes(ctx context.Context, env config.Environment, limit int) ([]Commit, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.cleanup()
	head, err := c.tip(ctx, c.branch)
	if err != nil {
		return nil, err
	}
	snap, err := c.read(ctx, head)
	if err != nil {
		return nil, err
	}
	if len(snap.files) == 0 {
		return nil, nil
	}
	if err := c.unshallow(ctx); err != nil {
		return nil, err
	}
	args := []string{"log", fmt.Sprintf("-%d", max(limit, 1)), "--format=%H%x00%an%x00%cI%x00%B%x1e", head, "--"}
	for _, f := range snap.files {
		args = append(args, f.Path)
	}
	out, err := c.repo.Run(ctx, args...)
	if err != nil {
		return nil, c.gitErr("reading the history of the environment's files", err)
	}
	return parseChanges(string(out)), nil
}

// parseChanges reads git log records "%H\0%an\0%cI\0%B\x1e".
func parseChanges(out string) []Commit {
	var cs []Commit
	for _, rec := range strings.Split(out, "\x1e") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\x00", 4)
		if len(f) != 4 {
			continue
		}
		when, _ := time.Parse(time.RFC3339, f[2])
		cs = append(cs, Commit{SHA: f[0], Author: f[1], When: when, Message: f[3]})
	}
	return cs
}

// Proposals implements Changes for a git remote: its "pull requests" are
// automator's pushed branches not yet merged into the environment's branch.
func (w *LocalWriter) Proposals(ctx context.Context, env config.Environment) ([]Proposal, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.cleanup()
	branches := []string{"automator/" + env.Name, "automator/rollback-" + env.Name}
	heads, err := c.heads(ctx, branches...)
	if err != nil {
		return nil, err
	}
	base, err := c.tip(ctx, c.branch)
	if err != nil {
		return nil, err
	}
	var out []Proposal
	for _, b := range branches {
		if heads[b] == "" {
			continue
		}
		if err := c.fetch(ctx, b); err != nil {
			return nil, err
		}
		if c.merged(ctx, heads[b], base) {
			continue
		}
		when, err := c.repo.CommitTime(ctx, heads[b])
		if err != nil {
			return nil, c.gitErr("reading branch "+b, err)
		}
		out = append(out, Proposal{Branch: b, Title: b, Opened: when})
	}
	return out, nil
}

// Changes implements Changes.
func (r Router) Changes(ctx context.Context, env config.Environment, limit int) ([]Commit, error) {
	h, err := r.changes(env)
	if err != nil {
		return nil, err
	}
	return h.Changes(ctx, env, limit)
}

// Proposals implements Changes.
func (r Router) Proposals(ctx context.Context, env config.Environment) ([]Proposal, error) {
	h, err := r.changes(env)
	if err != nil {
		return nil, err
	}
	return h.Proposals(ctx, env)
}

func (r Router) changes(env config.Environment) (Changes, error) {
	w, err := r.pick(env)
	if err != nil {
		return nil, err
	}
	h, ok := w.(Changes)
	if !ok {
		return nil, fmt.Errorf("environment %q: its writer cannot read history", env.Name)
	}
	return h, nil
}

// newestFirst orders commits by committer date, newest first, keeping at
// most limit.
func newestFirst(cs []Commit, limit int) []Commit {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].When.After(cs[j].When) })
	if limit > 0 && len(cs) > limit {
		cs = cs[:limit]
	}
	return cs
}
