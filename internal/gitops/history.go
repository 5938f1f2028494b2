package gitops

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/rewrite"
)

// History reads what the manifests repository remembers: any file at any
// revision, and the commits that changed a file. Holds (a file beside the
// manifests), rollback awareness (who changed a value last) and soak times
// (since when a digest has run) are all answered from git, so git stays the
// only state.
type History interface {
	// ReadFile reads path at revision at ("" = the environment's branch
	// head); ok is false when the file does not exist there.
	ReadFile(ctx context.Context, env config.Environment, at, path string) (content []byte, ok bool, err error)
	// Log lists at most limit commits of the environment's branch that
	// changed path, newest first.
	Log(ctx context.Context, env config.Environment, path string, limit int) ([]Commit, error)
}

// Commit is one commit of a file's history.
type Commit struct {
	SHA     string
	Parents []string
	Message string
	// Author is who made the commit (name <email>).
	Author string
	// When is the committer date (when the commit landed on a branch).
	When time.Time
	// URL is the commit's web page (Changes on GitHub); empty otherwise.
	URL string
}

// Trailer returns the values of the trailer key ("Automator-Service") in
// the commit's message, in order.
func (c Commit) Trailer(key string) []string {
	var out []string
	for _, l := range strings.Split(c.Message, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// FileEdit rewrites one file of the repository as part of a write-back. Edit
// returns the new content from the file at the commit being written on;
// returning it unchanged writes nothing. Edit runs again on every attempt,
// on the freshly read base, so a racing writer's change to the file is never
// lost.
type FileEdit struct {
	Path string
	Edit func(in EditInput) ([]byte, error)
}

// EditInput is what a FileEdit sees.
type EditInput struct {
	// Old is the file at the commit being written on; Exists is false when
	// it is absent there.
	Old    []byte
	Exists bool
	// Pending is the file as automator's open pull request branch has it
	// (nil without one), so an edit can keep what it wrote before (e.g. a
	// hold's time) and a re-run writes the same bytes.
	Pending []byte
}

// Held is a service (or, Service "*", a whole environment) automation must
// not promote now, and why: shown in pull requests, commit messages (an
// Automator-Held trailer) and job summaries.
type Held struct {
	Service string `json:"service"`
	// Reason says who held it, when and why, or which revert implies it.
	Reason string `json:"reason"`
}

// editFiles applies the request's file edits on snap and returns eds with
// the changed files added (or replaced, for a path already edited).
// pending is the trusted pull request branch head's tree (nil in commit
// mode or without one).
func (w *writeBack) editFiles(ctx context.Context, snap *snapshot, eds []edited, pending *snapshot) ([]edited, error) {
	for _, fe := range w.req.Edits {
		old, exists, err := w.b.readPath(ctx, snap, fe.Path)
		if err != nil {
			return nil, err
		}
		var prev []byte
		if pending != nil {
			if prev, _, err = w.b.readPath(ctx, pending, fe.Path); err != nil {
				return nil, err
			}
		}
		idx := -1
		for i, e := range eds {
			if e.Path == fe.Path {
				idx, old, exists = i, e.New, true
			}
		}
		next, err := fe.Edit(EditInput{Old: old, Exists: exists, Pending: prev})
		if err != nil {
			return nil, fmt.Errorf("environment %q: editing %s: %w", w.req.Env.Name, fe.Path, err)
		}
		if exists && bytes.Equal(next, old) {
			continue
		}
		if idx >= 0 {
			eds[idx].New, eds[idx].Diff = next, fileDiff(fe.Path, eds[idx].Content, next)
			continue
		}
		ed := edited{file: file{Path: fe.Path, Content: old}, New: next, Diff: fileDiff(fe.Path, old, next)}
		eds = append(eds, ed)
	}
	return eds, nil
}

func fileDiff(p string, a, b []byte) string {
	return rewrite.UnifiedDiff("a/"+p, "b/"+p, a, b)
}

// extraBlobs names the blobs of the edited files that are not environment
// files (the pending record lists them so that trust accepts them).
func extraBlobs(snap *snapshot, eds []edited) map[string]string {
	env := map[string]bool{}
	for _, f := range snap.files {
		env[f.Path] = true
	}
	var out map[string]string
	for _, e := range eds {
		if !env[e.Path] {
			if out == nil {
				out = map[string]string{}
			}
			out[e.Path] = gitBlobSHA(e.New)
		}
	}
	return out
}

// dropHeld removes the pending updates of held services.
func (w *writeBack) dropHeld(pending []Update) []Update {
	if len(w.req.Held) == 0 {
		return pending
	}
	held := map[string]bool{}
	for _, h := range w.req.Held {
		held[h.Service] = true
	}
	var out []Update
	for _, u := range pending {
		if held[u.Service] || held["*"] {
			w.log.Info("not carrying over a pending update of a held service", zap.String("service", u.Service), zap.String("image", u.Ref()))
			continue
		}
		out = append(out, u)
	}
	return out
}

// readPath implements backend for GitHub: the blob at path in snap's tree.
func (t *target) readPath(ctx context.Context, snap *snapshot, p string) ([]byte, bool, error) {
	sha, ok := snap.shas[p]
	if !ok {
		return nil, false, nil
	}
	b, _, err := t.api.Git.GetBlob(ctx, t.owner, t.name, sha)
	if err != nil {
		return nil, false, fmt.Errorf("environment %q: reading %s from %s: %w", t.env.Name, p, t.env.Repo, err)
	}
	c, err := blobContent(b)
	if err != nil {
		return nil, false, fmt.Errorf("environment %q: decoding %s from %s: %w", t.env.Name, p, t.env.Repo, err)
	}
	return c, true, nil
}

// readPath implements backend for a clone.
func (c *clone) readPath(ctx context.Context, snap *snapshot, p string) ([]byte, bool, error) {
	if _, ok := snap.shas[p]; !ok {
		return nil, false, nil
	}
	m, err := c.repo.ReadFiles(ctx, snap.commit, []string{p})
	if err != nil {
		return nil, false, c.gitErr("reading "+p, err)
	}
	return m[p], true, nil
}

// ReadFile implements History.
func (w *GitHubWriter) ReadFile(ctx context.Context, env config.Environment, at, p string) ([]byte, bool, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return nil, false, err
	}
	if at == "" {
		var ok bool
		if at, ok, err = t.head(ctx, t.branch); err != nil {
			return nil, false, err
		} else if !ok {
			return nil, false, fmt.Errorf("environment %q: branch %q does not exist in %s", env.Name, t.branch, env.Repo)
		}
	}
	tree, _, err := t.api.Git.GetTree(ctx, t.owner, t.name, at, true)
	if err != nil {
		return nil, false, fmt.Errorf("environment %q: listing files of %s at %s: %w", env.Name, env.Repo, short(at), err)
	}
	snap := &snapshot{commit: at, shas: map[string]string{}}
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			snap.shas[e.GetPath()] = e.GetSHA()
		}
	}
	return t.readPath(ctx, snap, p)
}

// Log implements History with the commits API (path filter, one page).
func (w *GitHubWriter) Log(ctx context.Context, env config.Environment, p string, limit int) ([]Commit, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	cs, resp, err := t.api.Repositories.ListCommits(ctx, t.owner, t.name, &github.CommitsListOptions{SHA: t.branch, Path: p, ListOptions: github.ListOptions{PerPage: min(limit, 100)}})
	if err != nil {
		if statusOf(resp, err) == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("environment %q: reading the history of %s: %w", env.Name, p, err)
	}
	out := make([]Commit, 0, len(cs))
	for _, c := range cs {
		rc := Commit{SHA: c.GetSHA(), Message: c.GetCommit().GetMessage(), When: c.GetCommit().GetCommitter().GetDate().Time,
			Author: c.GetCommit().GetAuthor().GetName() + " <" + c.GetCommit().GetAuthor().GetEmail() + ">"}
		for _, pa := range c.Parents {
			rc.Parents = append(rc.Parents, pa.GetSHA())
		}
		out = append(out, rc)
	}
	return out[:min(len(out), limit)], nil
}

// ReadFile implements History.
func (w *LocalWriter) ReadFile(ctx context.Context, env config.Environment, at, p string) ([]byte, bool, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return nil, false, err
	}
	defer c.cleanup()
	commit, err := c.at(ctx, at)
	if err != nil {
		return nil, false, err
	}
	snap, err := c.list(ctx, commit)
	if err != nil {
		return nil, false, err
	}
	return c.readPath(ctx, snap, p)
}

// Log implements History with git log on the unshallowed clone.
func (w *LocalWriter) Log(ctx context.Context, env config.Environment, p string, limit int) ([]Commit, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.cleanup()
	if err := c.unshallow(ctx); err != nil {
		return nil, err
	}
	out, err := c.repo.Run(ctx, "log", "-n", strconv.Itoa(limit), "--format=%H%x00%P%x00%ct%x00%an <%ae>%x00%B%x1e", "refs/remotes/origin/"+c.branch, "--", p)
	if err != nil {
		return nil, c.gitErr("reading the history of "+p, err)
	}
	var cs []Commit
	for _, rec := range strings.Split(string(out), "\x1e") {
		f := strings.SplitN(strings.TrimLeft(rec, "\n"), "\x00", 5)
		if len(f) != 5 {
			continue
		}
		secs, _ := strconv.ParseInt(f[2], 10, 64)
		cs = append(cs, Commit{SHA: f[0], Parents: strings.Fields(f[1]), When: time.Unix(secs, 0).UTC(), Author: f[3], Message: f[4]})
	}
	return cs, nil
}

// ReadFile implements History.
func (r Router) ReadFile(ctx context.Context, env config.Environment, at, p string) ([]byte, bool, error) {
	w, err := r.pick(env)
	if err != nil {
		return nil, false, err
	}
	return w.ReadFile(ctx, env, at, p)
}

// Log implements History.
func (r Router) Log(ctx context.Context, env config.Environment, p string, limit int) ([]Commit, error) {
	w, err := r.pick(env)
	if err != nil {
		return nil, err
	}
	return w.Log(ctx, env, p, limit)
}

// FreezeLabel is the label a pull request carries while its environment is
// in a freeze window; FreezeStatus is the context of the commit status that
// fails on its head until the window ends.
const (
	FreezeLabel  = "freeze"
	FreezeStatus = "automator/freeze"
)

// Freeze is a freeze window an environment is in.
type Freeze struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return " (" + oneLine(r) + ")"
}

// markFreeze labels the pull request and fails its head's FreezeStatus
// while pr.Freeze is set; once it is not, a pull request still labelled has
// the label removed and the status set to success. Statuses belong to a
// commit, so a new head (fresh) is marked again.
func (t *target) markFreeze(ctx context.Context, pr *PullRequest, head string, has *decorations, fresh bool) error {
	labelled := has != nil && len(missing([]string{FreezeLabel}, has.labels)) == 0
	fz := pr.Freeze
	switch {
	case fz != nil && (!labelled || fresh):
		if !labelled {
			if _, _, err := t.api.Issues.AddLabelsToIssue(ctx, t.owner, t.name, pr.Number, []string{FreezeLabel}); err != nil {
				return fmt.Errorf("environment %q: labelling pull request #%d %s: GitHub said: %s: %w", t.env.Name, pr.Number, FreezeLabel, ghMessage(err), err)
			}
		}
		desc := capRunes("Freeze window until "+fz.Until.UTC().Format("2006-01-02 15:04 MST")+reasonSuffix(fz.Reason), 140)
		return t.status(ctx, head, "failure", desc)
	case fz == nil && labelled:
		if _, err := t.api.Issues.RemoveLabelForIssue(ctx, t.owner, t.name, pr.Number, FreezeLabel); err != nil && !refMissing(err) {
			return fmt.Errorf("environment %q: unlabelling pull request #%d: GitHub said: %s: %w", t.env.Name, pr.Number, ghMessage(err), err)
		}
		return t.status(ctx, head, "success", "No freeze window")
	}
	return nil
}

// status sets the FreezeStatus commit status on sha (GitHub caps
// descriptions at 140 characters).
func (t *target) status(ctx context.Context, sha, state, desc string) error {
	_, _, err := t.api.Repositories.CreateStatus(ctx, t.owner, t.name, sha, &github.RepoStatus{State: github.String(state), Context: github.String(FreezeStatus), Description: github.String(desc)})
	if err != nil {
		return fmt.Errorf("environment %q: setting the %s status on %s: GitHub said: %s: %w", t.env.Name, FreezeStatus, short(sha), ghMessage(err), err)
	}
	return nil
}
