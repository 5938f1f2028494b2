package gitops

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/google/go-github/v60/github"
)

// GitHubWriter lands write-backs through the GitHub REST API without a
// clone: files are read from the tree at the branch head, rewritten, and
// committed as one tree (file contents inline) → one commit → one ref update.
//
// Guarantees: the environment's branch only ever moves by fast-forward
// (force: false) to a commit holding every file of the environment, so a
// failure at any step leaves it untouched or fully updated; a concurrent push
// is re-read and re-applied, never overwritten; commits carry no custom
// author, so under App auth GitHub signs them (Verified). Pull request
// branches (automator/<env>) only ever fast-forward too: regenerating one
// from a moved base keeps its old head as second parent, and a head commit
// the writer did not make is never written over. The
// write-back algorithm is writeBack's (writeback.go); this file holds its
// GitHub backend (target).
type GitHubWriter struct {
	src ClientSource
	o   options

	mu       sync.Mutex
	defaults map[string]string
	selves   map[string]identity // owner → who this writer's commits are made by
}

var _ Writer = (*GitHubWriter)(nil)

// NewGitHubWriter returns a writer that gets its API per repository from src.
func NewGitHubWriter(src ClientSource, opts ...Option) (*GitHubWriter, error) {
	if src == nil {
		return nil, errors.New("nil client source")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	return &GitHubWriter{src: src, o: o, defaults: map[string]string{}, selves: map[string]identity{}}, nil
}

// target is one environment resolved against its repository: the backend
// of one GitHub write-back.
type target struct {
	env         config.Environment
	owner, name string
	branch      string
	api         API
	serverURL   string
	w           *GitHubWriter // where the identity learned from commits is kept
}

var _ backend = (*target)(nil)

func (w *GitHubWriter) resolve(ctx context.Context, env config.Environment) (*target, error) {
	owner, name, err := splitRepo(env)
	if err != nil {
		return nil, err
	}
	api, err := w.src(ctx, owner, name)
	if err != nil {
		return nil, fmt.Errorf("environment %q: connecting to %s: %w", env.Name, env.Repo, err)
	}
	t := &target{env: env, owner: owner, name: name, branch: env.Branch, api: api, serverURL: w.o.links.ServerURL, w: w}
	if t.branch == "" {
		w.mu.Lock()
		t.branch = w.defaults[env.Repo]
		w.mu.Unlock()
	}
	if t.branch == "" {
		r, _, err := api.Repositories.Get(ctx, owner, name)
		if err != nil {
			return nil, fmt.Errorf("environment %q: finding the default branch of %s: %w", env.Name, env.Repo, err)
		}
		t.branch = r.GetDefaultBranch()
		w.mu.Lock()
		w.defaults[env.Repo] = t.branch
		w.mu.Unlock()
	}
	return t, nil
}

// Apply implements Writer.
func (w *GitHubWriter) Apply(ctx context.Context, req Request) (*Result, error) {
	t, err := w.resolve(ctx, req.Env)
	if err != nil {
		return nil, err
	}
	return newWriteBack(t, &w.o, req, t.branch).run(ctx)
}

// head implements backend: found is false on 404.
func (t *target) head(ctx context.Context, branch string) (sha string, found bool, err error) {
	ref, resp, err := t.api.Git.GetRef(ctx, t.owner, t.name, "heads/"+branch)
	if err != nil {
		if statusOf(resp, err) == http.StatusNotFound {
			return "", false, nil
		}
		return "", false, fmt.Errorf("environment %q: reading branch %q of %s: %w", t.env.Name, branch, t.env.Repo, err)
	}
	return ref.GetObject().GetSHA(), true, nil
}

// read implements backend.
func (t *target) read(ctx context.Context, commit string) (*snapshot, error) {
	return t.list(ctx, commit, true)
}

// list lists the tree at commit and fetches the environment's files. With
// blobs false only the listing is read.
func (t *target) list(ctx context.Context, commit string, blobs bool) (*snapshot, error) {
	tree, _, err := t.api.Git.GetTree(ctx, t.owner, t.name, commit, true)
	if err != nil {
		return nil, fmt.Errorf("environment %q: listing files of %s at %s: %w", t.env.Name, t.env.Repo, short(commit), err)
	}
	if tree.GetTruncated() {
		return nil, fmt.Errorf("environment %q: the tree of %s is too large to list in one request", t.env.Name, t.env.Repo)
	}
	s := &snapshot{commit: commit, tree: tree.GetSHA(), shas: map[string]string{}}
	modes := map[string]string{}
	var paths []string
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			s.shas[e.GetPath()] = e.GetSHA()
			modes[e.GetPath()] = e.GetMode()
			paths = append(paths, e.GetPath())
		}
	}
	matched, err := matchFiles(t.env, paths)
	if err != nil {
		return nil, err
	}
	byBlob := map[string][]byte{} // identical files are fetched once
	for _, p := range matched {
		f := file{Path: p, Mode: modes[p]}
		if c, ok := byBlob[s.shas[p]]; ok && blobs {
			f.Content = c
		} else if blobs {
			b, _, err := t.api.Git.GetBlob(ctx, t.owner, t.name, s.shas[p])
			if err != nil {
				return nil, fmt.Errorf("environment %q: reading %s from %s: %w", t.env.Name, p, t.env.Repo, err)
			}
			if f.Content, err = blobContent(b); err != nil {
				return nil, fmt.Errorf("environment %q: decoding %s from %s: %w", t.env.Name, p, t.env.Repo, err)
			}
			byBlob[s.shas[p]] = f.Content
		}
		s.files = append(s.files, f)
	}
	return s, nil
}

func blobContent(b *github.Blob) ([]byte, error) {
	if b.GetEncoding() == "utf-8" {
		return []byte(b.GetContent()), nil
	}
	return base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(b.GetContent()))
}

// gitBlobSHA is git's object name of a blob, to compare contents with a tree
// without uploading anything.
func gitBlobSHA(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// commit implements backend: the edited files become one tree on top of
// base's tree and one commit. Contents travel inline in the tree request, so
// no blob is created separately. The identity GitHub gives the commit is
// remembered as automator's own (mine).
func (t *target) commit(ctx context.Context, base *snapshot, eds []edited, message string, parents ...string) (string, error) {
	entries := make([]*github.TreeEntry, 0, len(eds))
	for _, e := range eds {
		mode := e.Mode
		if mode == "" {
			mode = "100644"
		}
		entries = append(entries, &github.TreeEntry{Path: github.String(e.Path), Mode: github.String(mode), Type: github.String("blob"), Content: github.String(string(e.New))})
	}
	tree, _, err := t.api.Git.CreateTree(ctx, t.owner, t.name, base.tree, entries)
	if err != nil {
		return "", fmt.Errorf("environment %q: creating tree in %s: %w", t.env.Name, t.env.Repo, err)
	}
	ps := make([]*github.Commit, len(parents))
	for i, p := range parents {
		ps[i] = &github.Commit{SHA: github.String(p)}
	}
	// No Author or Committer: GitHub uses the authenticated identity and, for
	// an App, signs the commit.
	c, _, err := t.api.Git.CreateCommit(ctx, t.owner, t.name, &github.Commit{Message: github.String(message), Tree: &github.Tree{SHA: tree.SHA}, Parents: ps}, nil)
	if err != nil {
		return "", fmt.Errorf("environment %q: creating commit in %s: %w", t.env.Name, t.env.Repo, err)
	}
	if who := identityOf(c); who.author.Email != "" {
		t.w.mu.Lock()
		t.w.selves[strings.ToLower(t.owner)] = who
		t.w.mu.Unlock()
	}
	return c.GetSHA(), nil
}

func identityOf(c *github.Commit) identity {
	return identity{
		author:    person{Name: c.GetAuthor().GetName(), Email: c.GetAuthor().GetEmail()},
		committer: person{Name: c.GetCommitter().GetName(), Email: c.GetCommitter().GetEmail()},
		verified:  c.GetVerification().GetVerified(),
	}
}

// mine implements backend: who must be the identity of a commit this writer
// made in the same installation, and verified by GitHub when that one was
// (so a pushed commit that merely names the bot as author is not). Until the
// writer has made a commit there, it does not know.
func (t *target) mine(who identity) (is, known bool) {
	t.w.mu.Lock()
	self, ok := t.w.selves[strings.ToLower(t.owner)]
	t.w.mu.Unlock()
	if !ok {
		return false, false
	}
	return who.author == self.author && who.committer == self.committer && (who.verified || !self.verified), true
}

// leasedForce implements backend: GitHub's forced ref update is not a
// compare-and-swap, so the writer never forces a pull request branch.
func (t *target) leasedForce() bool { return false }

// headCommit implements backend with one commit and one tree listing.
func (t *target) headCommit(ctx context.Context, sha string) (*headCommit, error) {
	c, _, err := t.api.Git.GetCommit(ctx, t.owner, t.name, sha)
	if err != nil {
		return nil, fmt.Errorf("environment %q: reading commit %s of %s: %w", t.env.Name, short(sha), t.env.Repo, err)
	}
	snap, err := t.list(ctx, sha, false)
	if err != nil {
		return nil, err
	}
	return &headCommit{sha: sha, message: c.GetMessage(), who: identityOf(c), blobs: snap.shas}, nil
}

// explain implements backend: one comment on the open pull request (none
// when a comment of automator's already says it).
func (t *target) explain(ctx context.Context, st *prState, fe *ForeignCommitError) error {
	if st.open == nil {
		return nil
	}
	cs, _, err := t.api.Issues.ListComments(ctx, t.owner, t.name, st.open.Number, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return fmt.Errorf("environment %q: reading the comments of pull request #%d: %w", t.env.Name, st.open.Number, err)
	}
	for _, c := range cs {
		if strings.Contains(c.GetBody(), stopMarker) {
			return nil
		}
	}
	text := CapMarkdown(stopComment(fe), MaxBody, "…\n")
	if _, _, err := t.api.Issues.CreateComment(ctx, t.owner, t.name, st.open.Number, &github.IssueComment{Body: github.String(text)}); err != nil {
		return fmt.Errorf("environment %q: commenting on pull request #%d: GitHub said: %s: %w", t.env.Name, st.open.Number, ghMessage(err), err)
	}
	return nil
}

// moveRef implements backend with one ref update (CreateRef when old is "").
// GitHub has no compare-and-swap for forced updates, so the writer never
// asks for one (leasedForce). GitHub answers 422 for several ref failures: "not a fast
// forward", an existing ref on create and a vanished ref on a forced update
// are lost races. When the outcome is unknown (e.g. a 5xx after the update
// took effect), the ref tells.
func (t *target) moveRef(ctx context.Context, branch, next, old string, force bool) error {
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(next)}}
	var resp *github.Response
	var err error
	if old == "" {
		_, resp, err = t.api.Git.CreateRef(ctx, t.owner, t.name, ref)
	} else {
		_, resp, err = t.api.Git.UpdateRef(ctx, t.owner, t.name, ref, force)
	}
	switch {
	case err == nil:
		return nil
	case isNonFastForward(resp, err), isUnprocessable(resp, err) && (old == "" || force || refMissing(err)):
		return fmt.Errorf("moving %s: %w", branch, ErrRejected)
	case isProtected(resp, err):
		return fmt.Errorf("%w (GitHub said: %s)", ErrProtectedBranch, ghMessage(err))
	}
	if now, ok, rerr := t.head(ctx, branch); rerr == nil && ok && now == next {
		return nil
	}
	return fmt.Errorf("environment %q: moving %s@%s to %s: %w", t.env.Name, t.env.Repo, branch, short(next), err)
}

// commitURL implements backend.
func (t *target) commitURL(sha string) string {
	return strings.TrimRight(t.serverURL, "/") + "/" + t.env.Repo + "/commit/" + sha
}

// compareURL implements backend.
func (t *target) compareURL(base, branch string) string {
	return strings.TrimRight(t.serverURL, "/") + "/" + t.env.Repo + "/compare/" + base + "..." + branch
}

// prState implements backend: a branch whose head is that of a closed or
// merged pull request is stale. The pull request body is never read back as
// state: anyone who can edit it could forge it.
func (t *target) prState(ctx context.Context, base, branch string) (*prState, error) {
	st := &prState{}
	var err error
	var ok bool
	if st.baseHead, ok, err = t.head(ctx, base); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("environment %q: base branch %q does not exist in %s", t.env.Name, base, t.env.Repo)
	}
	prs, _, err := t.api.PullRequests.List(ctx, t.owner, t.name, &github.PullRequestListOptions{State: "all", Head: t.owner + ":" + branch, Base: base, ListOptions: github.ListOptions{PerPage: 20}})
	if err != nil {
		return nil, fmt.Errorf("environment %q: listing pull requests of %s for %s: %w", t.env.Name, t.env.Repo, branch, err)
	}
	if st.branchHead, _, err = t.head(ctx, branch); err != nil {
		return nil, err
	}
	var open *github.PullRequest
	for _, pr := range prs {
		if pr.GetHead().GetRef() != branch {
			continue
		}
		if pr.GetState() == "open" && open == nil {
			open = pr
		} else if st.branchHead != "" && pr.GetHead().GetSHA() == st.branchHead {
			st.stale = true
		}
	}
	if open != nil {
		st.stale = false
		st.open = &PullRequest{Number: open.GetNumber(), URL: open.GetHTMLURL(), Title: open.GetTitle(), Body: open.GetBody(), Branch: branch}
		st.has = &decorations{}
		for _, l := range open.Labels {
			st.has.labels = append(st.has.labels, l.GetName())
		}
		for _, u := range open.Assignees {
			st.has.assignees = append(st.has.assignees, u.GetLogin())
		}
		for _, u := range open.RequestedReviewers {
			st.has.reviewers = append(st.has.reviewers, u.GetLogin())
		}
		for _, tm := range open.RequestedTeams {
			st.has.teams = append(st.has.teams, tm.GetSlug())
		}
	}
	return st, nil
}

// publish implements backend: it opens (and decorates) or edits the pull
// request, then checks that the branch still is at head.
func (t *target) publish(ctx context.Context, st *prState, pr *PullRequest, head string) error {
	if st.open == nil {
		np := &github.NewPullRequest{Title: github.String(pr.Title), Head: github.String(pr.Branch), Base: github.String(t.branch), Body: github.String(pr.Body), Draft: github.Bool(t.env.PullRequest.Draft)}
		created, resp, err := t.api.PullRequests.Create(ctx, t.owner, t.name, np)
		if err != nil {
			// Only "A pull request already exists" is a racing writer; any
			// other refusal (drafts not supported, an invalid base, a body
			// too long, …) will not change on a retry.
			if isUnprocessable(resp, err) && pullExists(err) {
				return lostRace("pull request exists")
			}
			return fmt.Errorf("environment %q: opening a pull request in %s: GitHub said: %s: %w", t.env.Name, t.env.Repo, ghMessage(err), err)
		}
		pr.Number, pr.URL, pr.Created = created.GetNumber(), created.GetHTMLURL(), true
		if err := t.decorate(ctx, pr.Number, &decorations{}, true); err != nil {
			return err
		}
		if err := t.markFreeze(ctx, pr, head, &decorations{}, true); err != nil {
			return err
		}
	} else {
		pr.Number, pr.URL = st.open.Number, st.open.URL
		if normalize(st.open.Body) != normalize(pr.Body) || st.open.Title != pr.Title {
			if _, _, err := t.api.PullRequests.Edit(ctx, t.owner, t.name, pr.Number, &github.PullRequest{Title: github.String(pr.Title), Body: github.String(pr.Body)}); err != nil {
				return fmt.Errorf("environment %q: updating pull request #%d in %s: %w", t.env.Name, pr.Number, t.env.Repo, err)
			}
			pr.Updated = true
		}
		// Decorations that failed (or were removed) are applied again.
		if err := t.decorate(ctx, pr.Number, st.has, head != st.branchHead); err != nil {
			return err
		}
		if err := t.markFreeze(ctx, pr, head, st.has, head != st.branchHead); err != nil {
			return err
		}
	}
	if !pr.Created && !pr.Updated && head == st.branchHead {
		return nil // nothing written
	}
	// A racing writer may have moved the branch after we read it; the body
	// we wrote must describe the branch as it is.
	if now, _, err := t.head(ctx, pr.Branch); err == nil && now != head {
		return lostRace("branch moved after writing")
	}
	return nil
}

func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

// decorations are the labels, assignees and review requests a pull request
// carries.
type decorations struct{ labels, assignees, reviewers, teams []string }

// missing returns the entries of want that have lacks (GitHub compares
// logins, labels and team slugs without case).
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || strings.EqualFold(w, h)
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// decorate applies the environment's labels, assignees and review requests
// that the pull request does not carry yet (has), so that one that failed on
// an earlier run is applied on a later one. A missing reviewer who already
// reviewed is asked again only along with a new head (reviews); a team is
// then asked again too (GitHub answers for a team with its members' reviews).
func (t *target) decorate(ctx context.Context, number int, has *decorations, reviews bool) error {
	pr := t.env.PullRequest
	if has == nil {
		has = &decorations{}
	}
	if ls := missing(pr.Labels, has.labels); len(ls) > 0 {
		if _, _, err := t.api.Issues.AddLabelsToIssue(ctx, t.owner, t.name, number, ls); err != nil {
			return fmt.Errorf("environment %q: labelling pull request #%d: GitHub said: %s: %w", t.env.Name, number, ghMessage(err), err)
		}
	}
	if as := missing(pr.Assignees, has.assignees); len(as) > 0 {
		if _, _, err := t.api.Issues.AddAssignees(ctx, t.owner, t.name, number, as); err != nil {
			return fmt.Errorf("environment %q: assigning pull request #%d: GitHub said: %s: %w", t.env.Name, number, ghMessage(err), err)
		}
	}
	rs, ts := missing(pr.Reviewers, has.reviewers), missing(pr.TeamReviewers, has.teams)
	if len(rs) > 0 && !reviews {
		// GitHub drops a reviewer from the requested ones once they
		// reviewed: ask again only those who have not.
		var reviewed []string
		revs, _, err := t.api.PullRequests.ListReviews(ctx, t.owner, t.name, number, &github.ListOptions{PerPage: 100})
		if err != nil {
			return fmt.Errorf("environment %q: listing reviews of pull request #%d: %w", t.env.Name, number, err)
		}
		for _, r := range revs {
			reviewed = append(reviewed, r.GetUser().GetLogin())
		}
		rs = missing(rs, reviewed)
	}
	if len(rs) > 0 || (reviews && len(ts) > 0) {
		if _, _, err := t.api.PullRequests.RequestReviewers(ctx, t.owner, t.name, number, github.ReviewersRequest{Reviewers: rs, TeamReviewers: ts}); err != nil {
			return fmt.Errorf("environment %q: requesting reviews on pull request #%d: GitHub said: %s: %w", t.env.Name, number, ghMessage(err), err)
		}
	}
	return nil
}

// Current implements Writer.
func (w *GitHubWriter) Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]Image, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	if at == "" {
		var ok bool
		if at, ok, err = t.head(ctx, t.branch); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("environment %q: branch %q does not exist in %s", env.Name, t.branch, env.Repo)
		}
	}
	return imagesAt(ctx, t, env, at, images)
}

// Previous implements Writer.
func (w *GitHubWriter) Previous(ctx context.Context, env config.Environment) (string, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return "", err
	}
	head, ok, err := t.head(ctx, t.branch)
	if err != nil {
		return "", err
	} else if !ok {
		return "", fmt.Errorf("environment %q: branch %q does not exist in %s", env.Name, t.branch, env.Repo)
	}
	snap, err := t.list(ctx, head, false)
	if err != nil {
		return "", err
	}
	var latest *github.RepositoryCommit
	for _, f := range snap.files {
		cs, _, err := t.api.Repositories.ListCommits(ctx, t.owner, t.name, &github.CommitsListOptions{SHA: head, Path: f.Path, ListOptions: github.ListOptions{PerPage: 1}})
		if err != nil {
			return "", fmt.Errorf("environment %q: reading the history of %s: %w", env.Name, f.Path, err)
		}
		if len(cs) > 0 && (latest == nil || cs[0].GetCommit().GetCommitter().GetDate().After(latest.GetCommit().GetCommitter().GetDate().Time)) {
			latest = cs[0]
		}
	}
	if latest == nil || len(latest.Parents) == 0 {
		return "", fmt.Errorf("environment %q: the files of %s have no earlier commit to roll back to", env.Name, env.Repo)
	}
	return latest.Parents[0].GetSHA(), nil
}

func statusOf(resp *github.Response, err error) int {
	if resp != nil && resp.Response != nil {
		return resp.StatusCode
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// ghMessage is what GitHub said: the message and every error's message
// (or, for errors without one, the field and code it names).
func ghMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		msg := er.Message
		for _, e := range er.Errors {
			switch {
			case e.Message != "":
				msg += "; " + e.Message
			case e.Field != "":
				msg += "; " + e.Field + " " + e.Code
			}
		}
		return msg
	}
	return err.Error()
}

// pullExists recognises GitHub's 422 "A pull request already exists for
// owner:branch.", the one refusal of a pull request creation that a racing
// writer causes.
func pullExists(err error) bool {
	return strings.Contains(strings.ToLower(ghMessage(err)), "a pull request already exists")
}

func isUnprocessable(resp *github.Response, err error) bool {
	return statusOf(resp, err) == http.StatusUnprocessableEntity
}

// isNonFastForward recognises GitHub's "Update is not a fast forward". GitHub
// returns 422 for several ref failures and tells them apart only by message.
func isNonFastForward(resp *github.Response, err error) bool {
	m := strings.ToLower(ghMessage(err))
	return isUnprocessable(resp, err) && (strings.Contains(m, "fast forward") || strings.Contains(m, "fast-forward"))
}

// refMissing recognises "Reference does not exist": the ref vanished
// (e.g. a merged pull request's branch was deleted) since it was read.
func refMissing(err error) bool {
	return strings.Contains(strings.ToLower(ghMessage(err)), "does not exist")
}

// isProtected recognises branch protection and repository rule refusals.
func isProtected(resp *github.Response, err error) bool {
	s := statusOf(resp, err)
	if s != http.StatusUnprocessableEntity && s != http.StatusConflict && s != http.StatusForbidden {
		return false
	}
	m := strings.ToLower(ghMessage(err))
	return strings.Contains(m, "protected branch") || strings.Contains(m, "rule violation") || strings.Contains(m, "branch is protected")
}

// supersede implements backend: one comment on the open pull request saying
// why, then the pull request is closed (its branch stays, as GitHub leaves
// it). A branch without an open pull request proposes nothing and is left.
// The branch is read again first: a racing writer that moved it since
// prState may have proposed something new.
func (t *target) supersede(ctx context.Context, st *prState, branch, reason string) (*PullRequest, error) {
	if st.open == nil {
		return nil, nil
	}
	if now, _, err := t.head(ctx, branch); err != nil {
		return nil, err
	} else if now != st.branchHead {
		return nil, lostRace("branch moved before closing its pull request")
	}
	n := st.open.Number
	text := "Closed by automator: " + reason + ". The latest promotion asks for nothing this pull request would change, so merging it would deploy images no promotion asks for any more."
	if _, _, err := t.api.Issues.CreateComment(ctx, t.owner, t.name, n, &github.IssueComment{Body: github.String(text)}); err != nil {
		return nil, fmt.Errorf("environment %q: commenting on pull request #%d: GitHub said: %s: %w", t.env.Name, n, ghMessage(err), err)
	}
	if _, _, err := t.api.PullRequests.Edit(ctx, t.owner, t.name, n, &github.PullRequest{State: github.String("closed")}); err != nil {
		return nil, fmt.Errorf("environment %q: closing pull request #%d in %s: GitHub said: %s: %w", t.env.Name, n, t.env.Repo, ghMessage(err), err)
	}
	pr := *st.open
	pr.Reason = reason
	return &pr, nil
}
