package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/git"
)

// LocalWriter lands write-backs in any git remote (file://, a plain path,
// https, ssh) through the git CLI: a shallow clone per write-back into a
// temporary directory, files rewritten exactly as GitHubWriter does, one
// commit built with plumbing (no work tree is checked out), and a push.
//
// Guarantees: the environment's branch is only ever pushed as a
// fast-forward; when a concurrent push wins, the writer fetches the new head,
// re-applies the updates on it (a rebase that cannot conflict, because the
// rewrite is re-run rather than the diff replayed) and retries, bounded by
// time, with exponential back-off and full jitter. Its pull request branch (automator/<env>) is regenerated like
// GitHubWriter's, and a forced update of that branch is a compare-and-swap
// (--force-with-lease on the head it read), so a racing writer's pending
// updates are never overwritten unseen. There is no pull request API: the
// "pull request" is the pushed branch plus the rendered title and body,
// returned in Result.PR for the caller to print or to open by hand. The
// write-back algorithm is writeBack's (writeback.go), shared with
// GitHubWriter; this file holds its git CLI backend (clone).
type LocalWriter struct {
	o      options
	pusher Pusher
}

var _ Writer = (*LocalWriter)(nil)

// RefUpdate is one branch update the local writer asks a Pusher for.
type RefUpdate struct {
	// Ref is the full ref name (refs/heads/…).
	Ref string
	// New is the commit the ref should point at ("" = delete the ref).
	New string
	// Old is the commit the writer read the ref at ("" = it did not exist).
	Old string
	// Lease makes the update a compare-and-swap: it succeeds only if the ref
	// still holds Old (or is still absent when Old is ""), even if New does
	// not descend from Old. Without Lease the update must fast-forward.
	Lease bool
}

// Pusher publishes a commit of the writer's clone to the remote "origin".
// The default runs git push; DryRunPusher pushes nothing.
type Pusher interface {
	Push(ctx context.Context, repo *git.Repo, u RefUpdate) error
}

// GitPusher pushes with the git CLI. Rejections because the ref moved wrap
// ErrRejected; refusals by the remote's hooks that mention protection wrap
// ErrProtectedBranch.
type GitPusher struct{}

var _ Pusher = GitPusher{}

// Push implements Pusher.
func (GitPusher) Push(ctx context.Context, repo *git.Repo, u RefUpdate) error {
	args := []string{"push", "--quiet", "--no-verify"}
	if u.Lease {
		args = append(args, "--force-with-lease="+u.Ref+":"+u.Old)
	}
	args = append(args, "origin", u.New+":"+u.Ref)
	_, err := repo.Run(ctx, args...)
	if err == nil {
		return nil
	}
	var ge *git.Error
	if !errors.As(err, &ge) {
		return err
	}
	msg := ge.Stderr
	switch {
	case strings.Contains(msg, "[rejected]") && (strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "fetch first") || strings.Contains(msg, "stale info")),
		// A concurrent push updated the ref between the remote's check and its
		// lock: it refuses with a lock failure, which is the same lost race.
		strings.Contains(msg, "cannot lock ref") || strings.Contains(msg, "failed to lock"):
		return fmt.Errorf("pushing %s: %w", u.Ref, ErrRejected)
	case strings.Contains(msg, "[remote rejected]") && strings.Contains(strings.ToLower(msg), "protect"):
		return fmt.Errorf("pushing %s: %w (the remote said: %s)", u.Ref, ErrProtectedBranch, firstLine(redactText(msg, "")))
	}
	return fmt.Errorf("pushing %s: %s", u.Ref, firstLine(redactText(msg, "")))
}

// DryRunPusher pushes nothing: the writer clones, rewrites and commits in its
// temporary clone, reports the diff and the pull request text, and the remote
// never sees a write.
type DryRunPusher struct{}

var _ Pusher = DryRunPusher{}

// Push implements Pusher by doing nothing.
func (DryRunPusher) Push(context.Context, *git.Repo, RefUpdate) error { return nil }

// LocalOption configures NewLocalWriter beyond the options shared with
// GitHubWriter.
type LocalOption func(*LocalWriter) error

// WithPusher replaces the push step (DryRunPusher for dry runs).
func WithPusher(p Pusher) LocalOption {
	return func(w *LocalWriter) error {
		if p == nil {
			return errors.New("nil pusher")
		}
		w.pusher = p
		return nil
	}
}

// NewLocalWriter returns a writer for environments whose repo is a git URL or
// path. opts are the shared writer options (WithAuthor, WithWorkDir,
// WithRetryFor, WithLogger, …).
func NewLocalWriter(opts []Option, local ...LocalOption) (*LocalWriter, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.author == nil {
		o.author = &Author{Name: "automator", Email: "automator@users.noreply.github.com"}
	}
	w := &LocalWriter{o: o, pusher: GitPusher{}}
	for _, opt := range local {
		if err := opt(w); err != nil {
			return nil, err
		}
	}
	return w, nil
}

var (
	ownerName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	fullSHA   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// IsGitHubRepo reports whether an environment's repo names a GitHub
// repository (owner/name) rather than a git URL or path. A relative path of
// two segments reads as owner/name: write it as ./dir/repo.
func IsGitHubRepo(repo string) bool {
	owner, _, _ := strings.Cut(repo, "/")
	return ownerName.MatchString(repo) && owner != "." && owner != ".."
}

// remoteURL turns a plain path into a file:// URL, so that shallow clones
// work (git ignores --depth for local paths).
func remoteURL(repo string) (string, error) {
	if strings.Contains(repo, "://") || (strings.Contains(repo, ":") && !strings.HasPrefix(repo, "/") && !strings.HasPrefix(repo, ".")) {
		return repo, nil // a URL or scp-like user@host:path
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", fmt.Errorf("resolving repository path %q: %w", repo, err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// redactURL hides a password or token in a URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

var userInfo = regexp.MustCompile(`(://)[^/@\s]+@`)

// redactText removes credentials embedded in URLs from git's messages.
func redactText(s, rawURL string) string {
	if rawURL != "" {
		s = strings.ReplaceAll(s, rawURL, redactURL(rawURL))
	}
	return userInfo.ReplaceAllString(s, "${1}xxxxx@")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "hint:") && !strings.HasPrefix(l, "To ") {
			return l
		}
	}
	return s
}

// clone is one write-back's shallow clone of the environment's repository:
// the backend of one local write-back.
type clone struct {
	env     config.Environment
	url     string // with credentials, never shown
	shown   string // redacted, for messages
	branch  string
	repo    *git.Repo
	cleanup func()
	pusher  Pusher
	moved   map[string]bool // branches whose fetched tip a push found stale
	author  Author          // who the writer commits as
}

var _ backend = (*clone)(nil)

// gitErr rewords a git failure without credentials. It keeps no reference to
// the original error, whose arguments may hold the remote URL.
func (c *clone) gitErr(doing string, err error) error {
	// The context's own error, not err: err's text holds git's arguments.
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, cause) {
			return fmt.Errorf("environment %q: %s in %s: %w", c.env.Name, doing, c.shown, cause)
		}
	}
	msg := err.Error()
	var ge *git.Error
	if errors.As(err, &ge) {
		msg = firstLine(ge.Stderr)
		if msg == "" {
			msg = ge.Error()
		}
	}
	return fmt.Errorf("environment %q: %s in %s: %s", c.env.Name, doing, c.shown, redactText(msg, c.url))
}

// open clones the environment's branch (depth 1, no checkout).
func (w *LocalWriter) open(ctx context.Context, env config.Environment) (*clone, error) {
	u, err := remoteURL(env.Repo)
	if err != nil {
		return nil, fmt.Errorf("environment %q: %w", env.Name, err)
	}
	parent, err := os.MkdirTemp(w.o.workDir, "automator-"+env.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("environment %q: creating a work directory: %w", env.Name, err)
	}
	c := &clone{env: env, url: u, shown: redactURL(u), branch: env.Branch, cleanup: func() { os.RemoveAll(parent) },
		pusher: w.pusher, moved: map[string]bool{}, author: *w.o.author}
	c.env.Repo = c.shown // messages, PR bodies and commit messages never show credentials
	ok := false
	defer func() {
		if !ok {
			c.cleanup()
		}
	}()
	runner, err := git.Open(parent)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, "repo")
	args := []string{"clone", "--quiet", "--no-checkout", "--depth", "1", "--no-tags"}
	if c.branch != "" {
		args = append(args, "--branch", c.branch)
	}
	if _, err := runner.Run(ctx, append(args, "--", u, dir)...); err != nil {
		return nil, c.gitErr("cloning", err)
	}
	a := w.o.author
	c.repo, err = git.Open(dir, git.WithEnv(
		"GIT_AUTHOR_NAME="+a.Name, "GIT_AUTHOR_EMAIL="+a.Email,
		"GIT_COMMITTER_NAME="+a.Name, "GIT_COMMITTER_EMAIL="+a.Email))
	if err != nil {
		return nil, err
	}
	if c.branch == "" {
		out, err := c.repo.Run(ctx, "symbolic-ref", "--short", "HEAD")
		if err != nil {
			return nil, c.gitErr("finding the default branch", err)
		}
		c.branch = strings.TrimSpace(string(out))
	}
	ok = true
	return c, nil
}

// heads asks the remote where branches point now; absent ones are missing.
func (c *clone) heads(ctx context.Context, branches ...string) (map[string]string, error) {
	args := []string{"ls-remote", "--heads", "origin"}
	for _, b := range branches {
		args = append(args, "refs/heads/"+b)
	}
	out, err := c.repo.Run(ctx, args...)
	if err != nil {
		return nil, c.gitErr("listing branches", err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		sha, ref, ok := strings.Cut(l, "\t")
		if ok {
			m[strings.TrimPrefix(ref, "refs/heads/")] = sha
		}
	}
	return m, nil
}

// fetch brings the tips of branches into the clone (depth 1).
func (c *clone) fetch(ctx context.Context, branches ...string) error {
	specs := make([]string, len(branches))
	for i, b := range branches {
		specs[i] = "+refs/heads/" + b + ":refs/remotes/origin/" + b
	}
	if err := c.repo.Fetch(ctx, "origin", git.FetchOptions{Depth: 1}, specs...); err != nil {
		return c.gitErr("fetching "+strings.Join(branches, ", "), err)
	}
	return nil
}

// head implements backend: the fetched tip of branch, fetched again after a
// push found it stale. A missing branch is an error of the clone or fetch.
func (c *clone) head(ctx context.Context, branch string) (string, bool, error) {
	if c.moved[branch] {
		if err := c.fetch(ctx, branch); err != nil {
			return "", false, err
		}
		delete(c.moved, branch)
	}
	sha, err := c.tip(ctx, branch)
	return sha, err == nil, err
}

// tip is the fetched tip of a branch.
func (c *clone) tip(ctx context.Context, branch string) (string, error) {
	sha, err := c.repo.ResolveCommit(ctx, "refs/remotes/origin/"+branch)
	if err != nil {
		return "", c.gitErr("reading branch "+branch, err)
	}
	return sha, nil
}

// list lists every blob of the tree at commit, fetching the commit first
// when the shallow clone lacks it (e.g. an older base a record names).
func (c *clone) list(ctx context.Context, commit string) (*snapshot, error) {
	if ok, _ := c.repo.HasCommit(ctx, commit); !ok {
		if _, err := c.at(ctx, commit); err != nil {
			return nil, err
		}
	}
	out, err := c.repo.Run(ctx, "-c", "core.quotePath=false", "ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit)
	if err != nil {
		return nil, c.gitErr("listing files at "+short(commit), err)
	}
	s := &snapshot{commit: commit, shas: map[string]string{}, modes: map[string]string{}}
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, p, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" {
			continue
		}
		s.shas[p], s.modes[p] = f[2], f[0]
		s.paths = append(s.paths, p)
	}
	return s, nil
}

// read implements backend.
func (c *clone) read(ctx context.Context, commit string) (*snapshot, error) {
	s, err := c.list(ctx, commit)
	if err != nil {
		return nil, err
	}
	modes, paths := s.modes, s.paths
	matched, err := matchFiles(c.env, paths)
	if err != nil {
		return nil, err
	}
	contents, err := c.repo.ReadFiles(ctx, commit, matched)
	if err != nil {
		return nil, c.gitErr("reading files", err)
	}
	for _, p := range matched {
		s.files = append(s.files, file{Path: p, Mode: modes[p], Content: contents[p]})
	}
	return s, nil
}

// commit implements backend with plumbing (hash-object, read-tree,
// update-index, write-tree, commit-tree) in the clone. Nothing reaches the
// remote.
func (c *clone) commit(ctx context.Context, base *snapshot, eds []edited, message string, parents ...string) (string, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(c.repo.Dir()), "objects-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	hashArgs := []string{"hash-object", "-w", "--no-filters", "--"}
	for i, e := range eds {
		p := filepath.Join(tmp, fmt.Sprint(i))
		if err := os.WriteFile(p, e.New, 0o600); err != nil {
			return "", err
		}
		hashArgs = append(hashArgs, p)
	}
	out, err := c.repo.Run(ctx, hashArgs...)
	if err != nil {
		return "", c.gitErr("writing blobs", err)
	}
	shas := strings.Fields(string(out))
	if len(shas) != len(eds) {
		return "", fmt.Errorf("environment %q: git hash-object returned %d names for %d files", c.env.Name, len(shas), len(eds))
	}
	if _, err := c.repo.Run(ctx, "read-tree", base.commit); err != nil {
		return "", c.gitErr("reading the tree of "+short(base.commit), err)
	}
	upd := []string{"update-index", "--add"}
	for i, e := range eds {
		mode := e.Mode
		if mode == "" {
			mode = "100644"
		}
		upd = append(upd, "--cacheinfo", mode+","+shas[i]+","+e.Path)
	}
	if _, err := c.repo.Run(ctx, upd...); err != nil {
		return "", c.gitErr("staging files", err)
	}
	tree, err := c.repo.Run(ctx, "write-tree")
	if err != nil {
		return "", c.gitErr("writing the tree", err)
	}
	msgFile := filepath.Join(tmp, "message")
	if err := os.WriteFile(msgFile, []byte(message), 0o600); err != nil {
		return "", err
	}
	args := []string{"commit-tree", strings.TrimSpace(string(tree))}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	sha, err := c.repo.Run(ctx, append(args, "-F", msgFile)...)
	if err != nil {
		return "", c.gitErr("creating the commit", err)
	}
	return strings.TrimSpace(string(sha)), nil
}

// message is the full commit message of a fetched commit.
func (c *clone) message(ctx context.Context, commit string) (string, error) {
	out, err := c.repo.Run(ctx, "log", "-1", "--format=%B", "--end-of-options", commit)
	if err != nil {
		return "", c.gitErr("reading commit "+short(commit), err)
	}
	return string(out), nil
}

// Apply implements Writer.
func (w *LocalWriter) Apply(ctx context.Context, req Request) (*Result, error) {
	c, err := w.open(ctx, req.Env)
	if err != nil {
		return nil, err
	}
	defer c.cleanup()
	req.Env = c.env
	return newWriteBack(c, &w.o, req, c.branch).run(ctx)
}

// moveRef implements backend with one push: a fast-forward, or with force
// (and on create) a compare-and-swap (--force-with-lease) on old.
func (c *clone) moveRef(ctx context.Context, branch, next, old string, force bool) error {
	err := c.pusher.Push(ctx, c.repo, RefUpdate{Ref: "refs/heads/" + branch, New: next, Old: old, Lease: force || old == ""})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrRejected):
		c.moved[branch] = true
		return err
	case errors.Is(err, ErrProtectedBranch):
		return err
	}
	return c.gitErr("pushing "+branch, err)
}

// commitURL implements backend: a git remote has no known web view.
func (c *clone) commitURL(string) string { return "" }

// compareURL implements backend: a git remote has no known web view.
func (c *clone) compareURL(string, string) string { return "" }

// prState implements backend: a branch whose head was merged into the base
// is stale (the head commit's record names the base it was written from).
func (c *clone) prState(ctx context.Context, base, branch string) (*prState, error) {
	heads, err := c.heads(ctx, base, branch)
	if err != nil {
		return nil, err
	}
	if heads[base] == "" {
		return nil, fmt.Errorf("environment %q: base branch %q does not exist in %s", c.env.Name, base, c.shown)
	}
	fetch := []string{base}
	if heads[branch] != "" {
		fetch = append(fetch, branch)
	}
	if err := c.fetch(ctx, fetch...); err != nil {
		return nil, err
	}
	st := &prState{}
	if st.baseHead, err = c.tip(ctx, base); err != nil {
		return nil, err
	}
	if heads[branch] == "" {
		return st, nil
	}
	if st.branchHead, err = c.tip(ctx, branch); err != nil {
		return nil, err
	}
	msg, err := c.message(ctx, st.branchHead)
	if err != nil {
		return nil, err
	}
	if decodeBlock(msg).Base != st.baseHead && c.merged(ctx, st.branchHead, st.baseHead) {
		st.stale = true
	}
	return st, nil
}

// headCommit implements backend with git log and ls-tree on the fetched
// commit.
func (c *clone) headCommit(ctx context.Context, sha string) (*headCommit, error) {
	out, err := c.repo.Run(ctx, "log", "-1", "--format=%an%x00%ae%x00%cn%x00%ce%x00%B", "--end-of-options", sha)
	if err != nil {
		return nil, c.gitErr("reading commit "+short(sha), err)
	}
	f := strings.SplitN(string(out), "\x00", 5)
	if len(f) != 5 {
		return nil, fmt.Errorf("environment %q: unexpected git log output for %s", c.env.Name, short(sha))
	}
	snap, err := c.list(ctx, sha)
	if err != nil {
		return nil, err
	}
	return &headCommit{sha: sha, message: f[4], blobs: snap.shas,
		who: identity{author: person{Name: f[0], Email: f[1]}, committer: person{Name: f[2], Email: f[3]}}}, nil
}

// mine implements backend: a git remote records only names, so automator's
// commits are those authored and committed as its configured author (every
// runner writing to the same remote must use the same one). The tree check
// (trust) and the Verifier cover what a forged name could carry.
func (c *clone) mine(who identity) (is, known bool) {
	self := person{Name: c.author.Name, Email: c.author.Email}
	return who.author == self && who.committer == self, true
}

// leasedForce implements backend: git push --force-with-lease is a
// compare-and-swap.
func (c *clone) leasedForce() bool { return true }

// explain implements backend: there is no pull request to comment on; the
// run's error (ForeignCommitError) is the explanation.
func (c *clone) explain(context.Context, *prState, *ForeignCommitError) error { return nil }

// merged reports whether the pull request branch head has been merged into
// the base: history of the base since shortly before the branch head's commit
// is fetched, then ancestry is checked. Squash merges are not recognised; the
// pending updates they carry then already run and drop out (effective).
func (c *clone) merged(ctx context.Context, branchHead, baseHead string) bool {
	out, err := c.repo.Run(ctx, "log", "-1", "--format=%ct", "--end-of-options", branchHead)
	if err != nil {
		return false
	}
	var ct int64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &ct); err != nil {
		return false
	}
	since := time.Unix(ct, 0).Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	if _, err := c.repo.Run(ctx, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--shallow-since="+since, "origin", "+refs/heads/"+c.branch+":refs/remotes/origin/"+c.branch); err != nil {
		return false
	}
	ok, err := c.repo.IsAncestor(ctx, branchHead, baseHead)
	return err == nil && ok
}

// publish implements backend: there is no pull request API, so the pull
// request is the pushed branch plus pr's rendered text; the push's lease
// already guaranteed that no racing writer was overwritten.
func (c *clone) publish(_ context.Context, st *prState, pr *PullRequest, head string) error {
	if head == st.branchHead {
		return nil // nothing written
	}
	pr.Created = st.branchHead == "" || st.stale
	pr.Updated = !pr.Created
	return nil
}

// at makes commit available in the clone: a full object name is fetched
// alone (depth 1); anything else (a short name, a branch) needs history.
func (c *clone) at(ctx context.Context, rev string) (string, error) {
	if rev == "" {
		return c.tip(ctx, c.branch)
	}
	if ok, _ := c.repo.HasCommit(ctx, rev); ok {
		return c.repo.ResolveCommit(ctx, rev)
	}
	if fullSHA.MatchString(rev) {
		if err := c.repo.Fetch(ctx, "origin", git.FetchOptions{Depth: 1}, rev); err == nil {
			return c.repo.ResolveCommit(ctx, rev)
		}
	}
	if err := c.unshallow(ctx); err != nil {
		return "", err
	}
	sha, err := c.repo.ResolveCommit(ctx, rev)
	if err != nil {
		return "", fmt.Errorf("environment %q: %w", c.env.Name, err)
	}
	return sha, nil
}

func (c *clone) unshallow(ctx context.Context) error {
	if err := c.repo.Fetch(ctx, "origin", git.FetchOptions{Unshallow: true}, "+refs/heads/"+c.branch+":refs/remotes/origin/"+c.branch); err != nil {
		return c.gitErr("fetching the history of "+c.branch, err)
	}
	return nil
}

// Current implements Writer.
func (w *LocalWriter) Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]Image, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.cleanup()
	env = c.env
	commit, err := c.at(ctx, at)
	if err != nil {
		return nil, err
	}
	return imagesAt(ctx, c, env, commit, images)
}

// Previous implements Writer.
func (w *LocalWriter) Previous(ctx context.Context, env config.Environment) (string, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return "", err
	}
	defer c.cleanup()
	head, err := c.tip(ctx, c.branch)
	if err != nil {
		return "", err
	}
	snap, err := c.read(ctx, head)
	if err != nil {
		return "", err
	}
	if err := c.unshallow(ctx); err != nil {
		return "", err
	}
	args := []string{"log", "-1", "--format=%H %P", head, "--"}
	for _, f := range snap.files {
		args = append(args, f.Path)
	}
	out, err := c.repo.Run(ctx, args...)
	if err != nil {
		return "", c.gitErr("reading the history of the environment's files", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return "", fmt.Errorf("environment %q: the files of %s have no earlier commit to roll back to", env.Name, c.shown)
	}
	return f[1], nil
}

// supersede implements backend: a git remote has no pull request to close,
// so the pushed branch (the proposal) is deleted, leased on the head trust
// checked: a branch someone moved since is never deleted (ErrRejected, the
// run starts over and judges the new head). The deleted head is automator's
// own regenerable commit.
func (c *clone) supersede(ctx context.Context, st *prState, branch, reason string) (*PullRequest, error) {
	err := c.pusher.Push(ctx, c.repo, RefUpdate{Ref: "refs/heads/" + branch, Old: st.branchHead, Lease: true})
	switch {
	case errors.Is(err, ErrRejected):
		c.moved[branch] = true
		return nil, err
	case err != nil:
		return nil, c.gitErr("deleting "+branch, err)
	}
	return &PullRequest{Branch: branch, Reason: reason}, nil
}
