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

	"github.com/google/go-github/v60/github"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
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
// branches (automator/<env>) are the writer's own and are regenerated.
type GitHubWriter struct {
	src ClientSource
	o   options

	mu       sync.Mutex
	defaults map[string]string
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
	return &GitHubWriter{src: src, o: o, defaults: map[string]string{}}, nil
}

// target is one environment resolved against its repository.
type target struct {
	env         config.Environment
	owner, name string
	branch      string
	api         API
	log         *zap.Logger
}

func (w *GitHubWriter) resolve(ctx context.Context, env config.Environment) (*target, error) {
	owner, name, err := splitRepo(env)
	if err != nil {
		return nil, err
	}
	api, err := w.src(ctx, owner, name)
	if err != nil {
		return nil, fmt.Errorf("environment %q: connecting to %s: %w", env.Name, env.Repo, err)
	}
	t := &target{env: env, owner: owner, name: name, branch: env.Branch, api: api,
		log: w.o.log.With(zap.String("env", env.Name), zap.String("repo", env.Repo))}
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

// headOf returns the commit a branch points at; found is false on 404.
func (t *target) headOf(ctx context.Context, branch string) (sha string, found bool, err error) {
	ref, resp, err := t.api.Git.GetRef(ctx, t.owner, t.name, "heads/"+branch)
	if err != nil {
		if statusOf(resp, err) == http.StatusNotFound {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading branch %q of %s: %w", branch, t.env.Repo, err)
	}
	return ref.GetObject().GetSHA(), true, nil
}

// snapshot is the environment's files at one commit.
type snapshot struct {
	commit, tree string
	shas         map[string]string // path → blob sha for every blob in the tree
	files        []file
}

// read lists the tree at commit and fetches the environment's files. With
// blobs false only the listing is read.
func (t *target) read(ctx context.Context, commit string, blobs bool) (*snapshot, error) {
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

// createCommit writes the edited files as one tree on top of baseTree and
// one commit with the given parents. Contents travel inline in the tree
// request, so no blob is created separately.
func (t *target) createCommit(ctx context.Context, baseTree string, eds []edited, message string, parents ...string) (string, error) {
	entries := make([]*github.TreeEntry, 0, len(eds))
	for _, e := range eds {
		mode := e.Mode
		if mode == "" {
			mode = "100644"
		}
		entries = append(entries, &github.TreeEntry{Path: github.String(e.Path), Mode: github.String(mode), Type: github.String("blob"), Content: github.String(string(e.New))})
	}
	tree, _, err := t.api.Git.CreateTree(ctx, t.owner, t.name, baseTree, entries)
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
	return c.GetSHA(), nil
}

// Apply implements Writer.
func (w *GitHubWriter) Apply(ctx context.Context, req Request) (*Result, error) {
	t, err := w.resolve(ctx, req.Env)
	if err != nil {
		return nil, err
	}
	req.Updates = stampUpdates(req.Updates, w.o.now())
	if req.Env.Mode == "commit" {
		return w.commit(ctx, t, req)
	}
	return w.pullRequest(ctx, t, req)
}

func (w *GitHubWriter) result(t *target, req Request, mode string) *Result {
	return &Result{Env: req.Env.Name, Repo: req.Env.Repo, Branch: t.branch, Mode: mode}
}

func filesOf(eds []edited) []FileChange {
	out := make([]FileChange, len(eds))
	for i, e := range eds {
		out[i] = FileChange{Path: e.Path, Diff: e.Diff, Changes: e.Changes}
	}
	return out
}

func (w *GitHubWriter) commitURL(repo, sha string) string {
	return strings.TrimRight(w.o.links.ServerURL, "/") + "/" + repo + "/commit/" + sha
}

// commit lands the updates as one commit on the environment's branch.
func (w *GitHubWriter) commit(ctx context.Context, t *target, req Request) (*Result, error) {
	res := w.result(t, req, "commit")
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		head, ok, err := t.headOf(ctx, t.branch)
		if err != nil {
			return nil, fmt.Errorf("environment %q: %w", req.Env.Name, err)
		}
		if !ok {
			return nil, fmt.Errorf("environment %q: branch %q does not exist in %s", req.Env.Name, t.branch, req.Env.Repo)
		}
		snap, err := t.read(ctx, head, true)
		if err != nil {
			return nil, err
		}
		eds, err := rewriteFiles(req.Env, snap.files, req.Updates)
		if err != nil {
			return nil, err
		}
		if len(eds) == 0 {
			t.log.Info("environment already runs these images", zap.String("branch", t.branch), zap.String("head", head))
			return res, nil
		}
		updates := effective(req.Updates, eds)
		subject, err := title(req, updates)
		if err != nil {
			return nil, err
		}
		msg := commitMessage(subject, req, updates, w.o.links, "", false)
		sha, err := t.createCommit(ctx, snap.tree, eds, msg, head)
		if err != nil {
			return nil, err
		}
		_, resp, err := t.api.Git.UpdateRef(ctx, t.owner, t.name, &github.Reference{Ref: github.String("refs/heads/" + t.branch), Object: &github.GitObject{SHA: github.String(sha)}}, false)
		if err == nil {
			res.Files, res.Updates, res.Message, res.Commit, res.CommitURL = filesOf(eds), updates, msg, sha, w.commitURL(req.Env.Repo, sha)
			t.log.Info("committed", zap.String("branch", t.branch), zap.String("commit", sha), zap.Int("files", len(eds)), zap.Int("attempt", attempt))
			return res, nil
		}
		switch {
		case isProtected(resp, err):
			return nil, fmt.Errorf("environment %q: committing to %s@%s: %w (GitHub said: %s)", req.Env.Name, req.Env.Repo, t.branch, ErrProtectedBranch, ghMessage(err))
		case isNonFastForward(resp, err):
			if attempt >= w.o.maxAttempts {
				return nil, fmt.Errorf("environment %q: committing to %s@%s: %w", req.Env.Name, req.Env.Repo, t.branch, ErrConflict)
			}
			t.log.Info("branch moved meanwhile; re-reading and re-applying", zap.String("branch", t.branch), zap.Int("attempt", attempt))
			if err := w.o.sleep(ctx, jitter(attempt)); err != nil {
				return nil, err
			}
			continue
		}
		// The outcome is unknown (e.g. a 5xx after the update took effect):
		// the ref tells.
		if now, ok, rerr := t.headOf(ctx, t.branch); rerr == nil && ok && now == sha {
			res.Files, res.Updates, res.Message, res.Commit, res.CommitURL = filesOf(eds), updates, msg, sha, w.commitURL(req.Env.Repo, sha)
			return res, nil
		}
		return nil, fmt.Errorf("environment %q: moving %s@%s to %s: %w", req.Env.Name, req.Env.Repo, t.branch, short(sha), err)
	}
}

// prState is what a pull request run finds before it writes.
type prState struct {
	baseHead   string
	open       *github.PullRequest
	branchHead string
	branchOK   bool
	stale      bool // the branch belongs to a closed or merged PR
	pending    []Update
	blockBase  string
}

func (t *target) prState(ctx context.Context, branch string) (*prState, error) {
	st := &prState{}
	var err error
	var ok bool
	if st.baseHead, ok, err = t.headOf(ctx, t.branch); err != nil {
		return nil, fmt.Errorf("environment %q: %w", t.env.Name, err)
	} else if !ok {
		return nil, fmt.Errorf("environment %q: base branch %q does not exist in %s", t.env.Name, t.branch, t.env.Repo)
	}
	prs, _, err := t.api.PullRequests.List(ctx, t.owner, t.name, &github.PullRequestListOptions{State: "all", Head: t.owner + ":" + branch, Base: t.branch, ListOptions: github.ListOptions{PerPage: 20}})
	if err != nil {
		return nil, fmt.Errorf("environment %q: listing pull requests of %s for %s: %w", t.env.Name, t.env.Repo, branch, err)
	}
	if st.branchHead, st.branchOK, err = t.headOf(ctx, branch); err != nil {
		return nil, fmt.Errorf("environment %q: %w", t.env.Name, err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() != branch {
			continue
		}
		if pr.GetState() == "open" && st.open == nil {
			st.open = pr
		} else if st.branchOK && pr.GetHead().GetSHA() == st.branchHead {
			st.stale = true
		}
	}
	if st.open != nil {
		st.stale = false
	}
	if st.branchOK && !st.stale {
		c, _, err := t.api.Git.GetCommit(ctx, t.owner, t.name, st.branchHead)
		if err != nil {
			return nil, fmt.Errorf("environment %q: reading the head of %s: %w", t.env.Name, branch, err)
		}
		pb := decodeBlock(c.GetMessage())
		st.pending, st.blockBase = pb.Updates, pb.Base
	}
	if st.open != nil {
		st.pending = mergeUpdates(st.pending, decodeBlock(st.open.GetBody()).Updates)
	}
	return st, nil
}

// pullRequest opens or updates the environment's pull request.
func (w *GitHubWriter) pullRequest(ctx context.Context, t *target, req Request) (*Result, error) {
	res := w.result(t, req, "pull-request")
	branch := prBranch(req)
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		retry := func(reason string) error {
			if attempt >= w.o.maxAttempts {
				return fmt.Errorf("environment %q: updating %s in %s: %w", req.Env.Name, branch, req.Env.Repo, ErrConflict)
			}
			t.log.Info("lost a race; re-reading and regenerating", zap.String("branch", branch), zap.String("reason", reason), zap.Int("attempt", attempt))
			return w.o.sleep(ctx, jitter(attempt))
		}
		st, err := t.prState(ctx, branch)
		if err != nil {
			return nil, err
		}
		merged := mergeUpdates(st.pending, req.Updates)
		snap, err := t.read(ctx, st.baseHead, true)
		if err != nil {
			return nil, err
		}
		eds, err := rewriteFiles(req.Env, snap.files, merged)
		if err != nil {
			return nil, err
		}
		if len(eds) == 0 {
			t.log.Info("environment already runs these images", zap.String("branch", t.branch))
			return res, nil
		}
		updates := effective(merged, eds)
		subject, err := title(req, updates)
		if err != nil {
			return nil, err
		}
		res.Files, res.Updates = filesOf(eds), updates

		// Is the branch already what we would write?
		same := false
		if st.branchOK && !st.stale {
			bt, _, err := t.api.Git.GetTree(ctx, t.owner, t.name, st.branchHead, true)
			if err != nil {
				return nil, fmt.Errorf("environment %q: listing files of %s: %w", req.Env.Name, branch, err)
			}
			same = sameFiles(bt, snap, eds)
		}
		head := st.branchHead
		forced := false
		if !same {
			msg := commitMessage(subject, req, updates, w.o.links, st.baseHead, true)
			res.Message = msg
			var parents []string
			force := false
			switch {
			case st.branchOK && !st.stale && st.blockBase == st.baseHead:
				parents = []string{st.branchHead} // stack on our own head: a fast-forward, so a racing writer is detected
			default:
				parents = []string{st.baseHead} // regenerate from the current base
				force = st.branchOK
			}
			sha, err := t.createCommit(ctx, snap.tree, eds, msg, parents...)
			if err != nil {
				return nil, err
			}
			ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)}}
			var resp *github.Response
			if st.branchOK {
				_, resp, err = t.api.Git.UpdateRef(ctx, t.owner, t.name, ref, force)
				forced = force
			} else {
				_, resp, err = t.api.Git.CreateRef(ctx, t.owner, t.name, ref)
			}
			if err != nil {
				if isNonFastForward(resp, err) || isUnprocessable(resp, err) {
					if rerr := retry("branch moved"); rerr != nil {
						return nil, rerr
					}
					continue
				}
				return nil, fmt.Errorf("environment %q: moving %s in %s: %w", req.Env.Name, branch, req.Env.Repo, err)
			}
			head = sha
			res.Commit, res.CommitURL = sha, w.commitURL(req.Env.Repo, sha)
		}

		// GitHub has no compare-and-swap for forced ref updates, so a forced
		// regeneration may have replaced a racing writer's commit. That
		// writer recorded its pending updates in the PR body before it
		// verified its head; any writer that replaced it after that
		// verification sees them here (before overwriting the body) and
		// re-applies them. Earlier replacements fail that writer's own
		// read-after-write check below, so it retries.
		if forced && st.open != nil {
			lost, err := t.lostPending(ctx, branch, merged)
			if err != nil {
				return nil, err
			}
			if lost {
				if rerr := retry("a racing writer's pending update is not on the branch"); rerr != nil {
					return nil, rerr
				}
				continue
			}
		}

		bd := body(req, branch, st.baseHead, updates, eds, w.o.links)
		pr := &PullRequest{Branch: branch, Title: subject, Body: bd}
		res.PR = pr
		if st.open == nil {
			np := &github.NewPullRequest{Title: github.String(subject), Head: github.String(branch), Base: github.String(t.branch), Body: github.String(bd), Draft: github.Bool(req.Env.PullRequest.Draft)}
			created, resp, err := t.api.PullRequests.Create(ctx, t.owner, t.name, np)
			if err != nil {
				if isUnprocessable(resp, err) { // a racing writer opened it first
					if rerr := retry("pull request exists"); rerr != nil {
						return nil, rerr
					}
					continue
				}
				return nil, fmt.Errorf("environment %q: opening a pull request in %s: %w", req.Env.Name, req.Env.Repo, err)
			}
			pr.Number, pr.URL, pr.Created = created.GetNumber(), created.GetHTMLURL(), true
			if err := t.decorate(ctx, pr.Number); err != nil {
				return nil, err
			}
		} else {
			pr.Number, pr.URL = st.open.GetNumber(), st.open.GetHTMLURL()
			if normalize(st.open.GetBody()) != normalize(bd) || st.open.GetTitle() != subject {
				if _, _, err := t.api.PullRequests.Edit(ctx, t.owner, t.name, pr.Number, &github.PullRequest{Title: github.String(subject), Body: github.String(bd)}); err != nil {
					return nil, fmt.Errorf("environment %q: updating pull request #%d in %s: %w", req.Env.Name, pr.Number, req.Env.Repo, err)
				}
				pr.Updated = true
			}
		}
		if !pr.Created && !pr.Updated && same {
			res.Commit = ""
			t.log.Info("pull request already up to date", zap.Int("pr", pr.Number))
			return res, nil
		}
		// A racing writer may have moved the branch after we read it; the
		// body we wrote must describe the branch as it is.
		if now, _, err := t.headOf(ctx, branch); err == nil && now != head {
			if rerr := retry("branch moved after writing"); rerr != nil {
				return nil, rerr
			}
			continue
		}
		if res.Commit == "" {
			res.Commit = head
		}
		t.log.Info("pull request ready", zap.Int("pr", pr.Number), zap.Bool("created", pr.Created), zap.Bool("updated", pr.Updated), zap.String("head", head))
		return res, nil
	}
}

// lostPending reports whether the open pull request of branch pends an
// update that carried (the set just written) neither holds nor supersedes.
func (t *target) lostPending(ctx context.Context, branch string, carried []Update) (bool, error) {
	prs, _, err := t.api.PullRequests.List(ctx, t.owner, t.name, &github.PullRequestListOptions{State: "open", Head: t.owner + ":" + branch, Base: t.branch, ListOptions: github.ListOptions{PerPage: 20}})
	if err != nil {
		return false, fmt.Errorf("environment %q: re-reading the pull request for %s in %s: %w", t.env.Name, branch, t.env.Repo, err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() != branch || pr.GetState() != "open" {
			continue
		}
		for _, u := range decodeBlock(pr.GetBody()).Updates {
			if !covers(carried, u) {
				return true, nil
			}
		}
	}
	return false, nil
}

// covers reports whether set holds u or a newer update of its service.
func covers(set []Update, u Update) bool {
	for _, o := range set {
		if o.Service == u.Service && (o.sameTarget(u) || !o.At.Before(u.At)) {
			return true
		}
	}
	return false
}

func normalize(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

// sameFiles reports whether the branch tree already holds the content we
// would write for every environment file.
func sameFiles(branchTree *github.Tree, base *snapshot, eds []edited) bool {
	have := map[string]string{}
	for _, e := range branchTree.Entries {
		have[e.GetPath()] = e.GetSHA()
	}
	want := map[string]string{}
	for _, f := range base.files {
		want[f.Path] = base.shas[f.Path]
	}
	for _, e := range eds {
		want[e.Path] = gitBlobSHA(e.New)
	}
	for p, s := range want {
		if have[p] != s {
			return false
		}
	}
	return true
}

// decorate applies labels, assignees and review requests to a new PR.
func (t *target) decorate(ctx context.Context, number int) error {
	pr := t.env.PullRequest
	if len(pr.Labels) > 0 {
		if _, _, err := t.api.Issues.AddLabelsToIssue(ctx, t.owner, t.name, number, pr.Labels); err != nil {
			return fmt.Errorf("environment %q: labelling pull request #%d: %w", t.env.Name, number, err)
		}
	}
	if len(pr.Assignees) > 0 {
		if _, _, err := t.api.Issues.AddAssignees(ctx, t.owner, t.name, number, pr.Assignees); err != nil {
			return fmt.Errorf("environment %q: assigning pull request #%d: %w", t.env.Name, number, err)
		}
	}
	if len(pr.Reviewers) > 0 || len(pr.TeamReviewers) > 0 {
		if _, _, err := t.api.PullRequests.RequestReviewers(ctx, t.owner, t.name, number, github.ReviewersRequest{Reviewers: pr.Reviewers, TeamReviewers: pr.TeamReviewers}); err != nil {
			return fmt.Errorf("environment %q: requesting reviews on pull request #%d: %w", t.env.Name, number, err)
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
		if at, ok, err = t.headOf(ctx, t.branch); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("environment %q: branch %q does not exist in %s", env.Name, t.branch, env.Repo)
		}
	}
	snap, err := t.read(ctx, at, true)
	if err != nil {
		return nil, err
	}
	return readImages(env, snap.files, images)
}

// Previous implements Writer.
func (w *GitHubWriter) Previous(ctx context.Context, env config.Environment) (string, error) {
	t, err := w.resolve(ctx, env)
	if err != nil {
		return "", err
	}
	head, ok, err := t.headOf(ctx, t.branch)
	if err != nil {
		return "", err
	} else if !ok {
		return "", fmt.Errorf("environment %q: branch %q does not exist in %s", env.Name, t.branch, env.Repo)
	}
	snap, err := t.read(ctx, head, false)
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

func ghMessage(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		msg := er.Message
		for _, e := range er.Errors {
			msg += "; " + e.Message
		}
		return msg
	}
	return err.Error()
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

// isProtected recognises branch protection and repository rule refusals.
func isProtected(resp *github.Response, err error) bool {
	s := statusOf(resp, err)
	if s != http.StatusUnprocessableEntity && s != http.StatusConflict && s != http.StatusForbidden {
		return false
	}
	m := strings.ToLower(ghMessage(err))
	return strings.Contains(m, "protected branch") || strings.Contains(m, "rule violation") || strings.Contains(m, "branch is protected")
}
