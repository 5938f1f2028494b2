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

	"go.uber.org/zap"

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
// rewrite is re-run rather than the diff replayed) and retries, bounded, with
// jitter. Its pull request branch (automator/<env>) is regenerated like
// GitHubWriter's, and a forced update of that branch is a compare-and-swap
// (--force-with-lease on the head it read), so a racing writer's pending
// updates are never overwritten unseen. There is no pull request API: the
// "pull request" is the pushed branch plus the rendered title and body,
// returned in Result.PR for the caller to print or to open by hand.
type LocalWriter struct {
	o      options
	pusher Pusher
}

var _ Writer = (*LocalWriter)(nil)

// RefUpdate is one branch update the local writer asks a Pusher for.
type RefUpdate struct {
	// Ref is the full ref name (refs/heads/…).
	Ref string
	// New is the commit the ref should point at.
	New string
	// Old is the commit the writer read the ref at ("" = it did not exist).
	Old string
	// Lease makes the update a compare-and-swap: it succeeds only if the ref
	// still holds Old (or is still absent when Old is ""), even if New does
	// not descend from Old. Without Lease the update must fast-forward.
	Lease bool
}

// ErrRejected is returned by a Pusher when the remote refused the update
// because the ref moved (non-fast-forward or a stale lease); the writer
// re-reads and retries.
var ErrRejected = errors.New("the remote ref moved")

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
// WithMaxAttempts, WithLogger, …).
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

// clone is one write-back's shallow clone of the environment's repository.
type clone struct {
	env     config.Environment
	url     string // with credentials, never shown
	shown   string // redacted, for messages
	branch  string
	repo    *git.Repo
	cleanup func()
	log     *zap.Logger
}

// gitErr rewords a git failure without credentials. It keeps no reference to
// the original error, whose arguments may hold the remote URL.
func (c *clone) gitErr(doing string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("environment %q: %s in %s: %w", c.env.Name, doing, c.shown, err)
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
	c := &clone{env: env, url: u, shown: redactURL(u), branch: env.Branch, cleanup: func() { os.RemoveAll(parent) }}
	c.env.Repo = c.shown // messages, PR bodies and commit messages never show credentials
	c.log = w.o.log.With(zap.String("env", env.Name), zap.String("repo", c.shown))
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

// head is the fetched tip of a branch.
func (c *clone) head(ctx context.Context, branch string) (string, error) {
	sha, err := c.repo.ResolveCommit(ctx, "refs/remotes/origin/"+branch)
	if err != nil {
		return "", c.gitErr("reading branch "+branch, err)
	}
	return sha, nil
}

// read lists the tree at commit and reads the environment's files.
func (c *clone) read(ctx context.Context, commit string) (*snapshot, error) {
	out, err := c.repo.Run(ctx, "-c", "core.quotePath=false", "ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit)
	if err != nil {
		return nil, c.gitErr("listing files at "+short(commit), err)
	}
	s := &snapshot{commit: commit, shas: map[string]string{}}
	modes := map[string]string{}
	var paths []string
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, p, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" {
			continue
		}
		s.shas[p], modes[p] = f[2], f[0]
		paths = append(paths, p)
	}
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

// commit writes the edited files on top of base's tree as one commit with
// the given parent. Nothing reaches the remote.
func (c *clone) commit(ctx context.Context, base string, eds []edited, message, parent string) (string, error) {
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
	if _, err := c.repo.Run(ctx, "read-tree", base); err != nil {
		return "", c.gitErr("reading the tree of "+short(base), err)
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
	sha, err := c.repo.Run(ctx, "commit-tree", strings.TrimSpace(string(tree)), "-p", parent, "-F", msgFile)
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
	req.Updates = stampUpdates(req.Updates, w.o.now())
	if req.Env.Mode == "commit" {
		return w.commit(ctx, c, req)
	}
	return w.pullRequest(ctx, c, req)
}

func (w *LocalWriter) result(c *clone, req Request, mode string) *Result {
	return &Result{Env: req.Env.Name, Repo: c.shown, Branch: c.branch, Mode: mode}
}

// retry waits before the next attempt after a lost race, or gives up.
func (w *LocalWriter) retry(ctx context.Context, c *clone, branch string, attempt int) error {
	if attempt >= w.o.maxAttempts {
		return fmt.Errorf("environment %q: pushing %s to %s: %w", c.env.Name, branch, c.shown, ErrConflict)
	}
	c.log.Info("lost a race; fetching, re-applying and retrying", zap.String("branch", branch), zap.Int("attempt", attempt))
	return w.o.sleep(ctx, jitter(attempt))
}

// commit lands the updates as one commit on the environment's branch.
func (w *LocalWriter) commit(ctx context.Context, c *clone, req Request) (*Result, error) {
	res := w.result(c, req, "commit")
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		if attempt > 1 {
			if err := c.fetch(ctx, c.branch); err != nil {
				return nil, err
			}
		}
		head, err := c.head(ctx, c.branch)
		if err != nil {
			return nil, err
		}
		snap, err := c.read(ctx, head)
		if err != nil {
			return nil, err
		}
		eds, err := rewriteFiles(req.Env, snap.files, req.Updates)
		if err != nil {
			return nil, err
		}
		if len(eds) == 0 {
			c.log.Info("environment already runs these images", zap.String("branch", c.branch), zap.String("head", head))
			return res, nil
		}
		updates := effective(req.Updates, eds)
		subject, err := title(req, updates)
		if err != nil {
			return nil, err
		}
		msg := commitMessage(subject, req, updates, w.o.links, "", false)
		sha, err := c.commit(ctx, head, eds, msg, head)
		if err != nil {
			return nil, err
		}
		err = w.pusher.Push(ctx, c.repo, RefUpdate{Ref: "refs/heads/" + c.branch, New: sha, Old: head})
		switch {
		case err == nil:
			res.Files, res.Updates, res.Message, res.Commit = filesOf(eds), updates, msg, sha
			c.log.Info("committed", zap.String("branch", c.branch), zap.String("commit", sha), zap.Int("files", len(eds)), zap.Int("attempt", attempt))
			return res, nil
		case errors.Is(err, ErrRejected):
			if err := w.retry(ctx, c, c.branch, attempt); err != nil {
				return nil, err
			}
		case errors.Is(err, ErrProtectedBranch):
			return nil, fmt.Errorf("environment %q: committing to %s@%s: %w", req.Env.Name, c.shown, c.branch, err)
		default:
			return nil, c.gitErr("pushing to "+c.branch, err)
		}
	}
}

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

// pullRequest regenerates the environment's pull request branch and returns
// the pull request text.
func (w *LocalWriter) pullRequest(ctx context.Context, c *clone, req Request) (*Result, error) {
	res := w.result(c, req, "pull-request")
	branch := prBranch(req)
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		heads, err := c.heads(ctx, c.branch, branch)
		if err != nil {
			return nil, err
		}
		baseHead, branchHead := heads[c.branch], heads[branch]
		if baseHead == "" {
			return nil, fmt.Errorf("environment %q: base branch %q does not exist in %s", req.Env.Name, c.branch, c.shown)
		}
		fetch := []string{c.branch}
		if branchHead != "" {
			fetch = append(fetch, branch)
		}
		if err := c.fetch(ctx, fetch...); err != nil {
			return nil, err
		}
		if baseHead, err = c.head(ctx, c.branch); err != nil {
			return nil, err
		}
		var pending []Update
		blockBase, stale := "", false
		if branchHead != "" {
			if branchHead, err = c.head(ctx, branch); err != nil {
				return nil, err
			}
			msg, err := c.message(ctx, branchHead)
			if err != nil {
				return nil, err
			}
			pb := decodeBlock(msg)
			pending, blockBase = pb.Updates, pb.Base
			if blockBase != baseHead && c.merged(ctx, branchHead, baseHead) {
				stale, pending = true, nil
			}
		}
		merged := mergeUpdates(pending, req.Updates)
		snap, err := c.read(ctx, baseHead)
		if err != nil {
			return nil, err
		}
		eds, err := rewriteFiles(req.Env, snap.files, merged)
		if err != nil {
			return nil, err
		}
		if len(eds) == 0 {
			c.log.Info("environment already runs these images", zap.String("branch", c.branch))
			return res, nil
		}
		updates := effective(merged, eds)
		subject, err := title(req, updates)
		if err != nil {
			return nil, err
		}
		res.Files, res.Updates = filesOf(eds), updates
		pr := &PullRequest{Branch: branch, Title: subject, Body: body(req, branch, baseHead, updates, eds, w.o.links)}
		res.PR = pr

		same := false
		if branchHead != "" && !stale {
			if same, err = c.holds(ctx, branchHead, snap, eds); err != nil {
				return nil, err
			}
			same = same && sameUpdates(pending, updates)
		}
		if same {
			c.log.Info("pull request branch already up to date", zap.String("branch", branch), zap.String("head", branchHead))
			return res, nil
		}
		msg := commitMessage(subject, req, updates, w.o.links, baseHead, true)
		parent, lease := baseHead, true // regenerate from the current base, compare-and-swap on our branch
		if branchHead != "" && !stale && blockBase == baseHead {
			parent, lease = branchHead, false // stack on our own head: a fast-forward
		}
		sha, err := c.commit(ctx, baseHead, eds, msg, parent)
		if err != nil {
			return nil, err
		}
		err = w.pusher.Push(ctx, c.repo, RefUpdate{Ref: "refs/heads/" + branch, New: sha, Old: branchHead, Lease: lease})
		switch {
		case err == nil:
		case errors.Is(err, ErrRejected):
			if err := w.retry(ctx, c, branch, attempt); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, c.gitErr("pushing "+branch, err)
		}
		res.Message, res.Commit = msg, sha
		pr.Created = branchHead == "" || stale
		pr.Updated = !pr.Created
		c.log.Info("pull request branch pushed", zap.String("branch", branch), zap.String("head", sha), zap.Bool("created", pr.Created), zap.Int("attempt", attempt))
		return res, nil
	}
}

// holds reports whether commit already holds the content we would write for
// every environment file.
func (c *clone) holds(ctx context.Context, commit string, base *snapshot, eds []edited) (bool, error) {
	want := map[string]string{}
	for _, f := range base.files {
		want[f.Path] = base.shas[f.Path]
	}
	for _, e := range eds {
		want[e.Path] = gitBlobSHA(e.New)
	}
	args := []string{"-c", "core.quotePath=false", "ls-tree", "-z", "--full-tree", "--end-of-options", commit, "--"}
	for p := range want {
		args = append(args, p)
	}
	out, err := c.repo.Run(ctx, args...)
	if err != nil {
		return false, c.gitErr("listing files at "+short(commit), err)
	}
	have := map[string]string{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, p, ok := strings.Cut(string(rec), "\t")
		if f := strings.Fields(meta); ok && len(f) == 3 {
			have[p] = f[2]
		}
	}
	for p, s := range want {
		if have[p] != s {
			return false, nil
		}
	}
	return true, nil
}

// sameUpdates reports whether two pending sets ask for the same images.
func sameUpdates(a, b []Update) bool {
	if len(a) != len(b) {
		return false
	}
	by := map[string]Update{}
	for _, u := range a {
		by[u.Service] = u
	}
	for _, u := range b {
		if o, ok := by[u.Service]; !ok || !o.sameTarget(u) {
			return false
		}
	}
	return true
}

// at makes commit available in the clone: a full object name is fetched
// alone (depth 1); anything else (a short name, a branch) needs history.
func (c *clone) at(ctx context.Context, rev string) (string, error) {
	if rev == "" {
		return c.head(ctx, c.branch)
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
	snap, err := c.read(ctx, commit)
	if err != nil {
		return nil, err
	}
	return readImages(env, snap.files, images)
}

// Previous implements Writer.
func (w *LocalWriter) Previous(ctx context.Context, env config.Environment) (string, error) {
	c, err := w.open(ctx, env)
	if err != nil {
		return "", err
	}
	defer c.cleanup()
	head, err := c.head(ctx, c.branch)
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
