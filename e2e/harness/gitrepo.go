package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GitRepo is a non-bare git repository with a work tree, used to build app monorepos and manifests repos
// with real history. Every method fails the test on error. Commits get deterministic authors and dates
// (one second apart), so identical scripts produce identical SHAs.
type GitRepo struct {
	// Dir is the work tree.
	Dir string

	t     testing.TB
	home  string
	clock int64
}

// NewGitRepo initialises a repository in dir (a new temporary directory when dir is empty) with "main" as
// the initial branch.
func NewGitRepo(t testing.TB, dir string) *GitRepo {
	t.Helper()
	RequireBinary(t, "git")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating %s: %v", dir, err)
	}
	r := &GitRepo{Dir: dir, t: t, home: t.TempDir(), clock: 1700000000}
	r.Git("init", "-q", "-b", "main")
	r.configure()
	return r
}

func (r *GitRepo) configure() {
	r.Git("config", "user.name", "App Developer")
	r.Git("config", "user.email", "dev@example.com")
	r.Git("config", "commit.gpgsign", "false")
	r.Git("config", "tag.gpgsign", "false")
}

// Git runs git in the work tree and returns its trimmed stdout.
func (r *GitRepo) Git(args ...string) string {
	r.t.Helper()
	out, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("in %s: %v", r.Dir, err)
	}
	return out
}

func (r *GitRepo) run(args ...string) (string, error) {
	date := fmt.Sprintf("@%d +0000", r.clock)
	env := []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
	out, err := runGit(context.Background(), "", r.home, nil, env, append([]string{"-C", r.Dir}, args...)...)
	return strings.TrimSpace(string(out)), err
}

// TryGit runs git and returns its error instead of failing the test, for asserting on failures.
func (r *GitRepo) TryGit(args ...string) (string, error) {
	r.t.Helper()
	return r.run(args...)
}

// WriteFile writes content to a path relative to the work tree, creating parent directories.
func (r *GitRepo) WriteFile(path, content string) {
	r.t.Helper()
	full := filepath.Join(r.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatalf("creating directory for %s: %v", path, err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		r.t.Fatalf("writing %s: %v", path, err)
	}
}

// ReadFile returns a work tree file's content.
func (r *GitRepo) ReadFile(path string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, filepath.FromSlash(path)))
	if err != nil {
		r.t.Fatalf("reading %s: %v", path, err)
	}
	return string(b)
}

// CopyDir copies a directory tree (e.g. a testdata fixture) into the work tree under dest ("" for the root).
func (r *GitRepo) CopyDir(src, dest string) {
	r.t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r.WriteFile(filepath.ToSlash(filepath.Join(dest, rel)), string(b))
		return nil
	})
	if err != nil {
		r.t.Fatalf("copying %s into %s: %v", src, r.Dir, err)
	}
}

// Remove deletes a file or directory from the work tree and the index.
func (r *GitRepo) Remove(path string) {
	r.t.Helper()
	r.Git("rm", "-r", "-q", "--", path)
}

// Rename moves a tracked path (git mv), so the next commit records a rename.
func (r *GitRepo) Rename(from, to string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(r.Dir, filepath.FromSlash(to))), 0o755); err != nil {
		r.t.Fatalf("creating directory for %s: %v", to, err)
	}
	r.Git("mv", "--", from, to)
}

// Commit stages everything and commits it, returning the new HEAD SHA. It fails the test when there is
// nothing to commit, because a test that expects a change and makes none is wrong.
func (r *GitRepo) Commit(msg string) string {
	r.t.Helper()
	r.clock++
	r.Git("add", "-A")
	r.Git("commit", "-q", "-m", msg)
	return r.Head()
}

// Head returns the SHA of HEAD.
func (r *GitRepo) Head() string {
	r.t.Helper()
	return r.Git("rev-parse", "HEAD")
}

// RevParse resolves a revision to a SHA.
func (r *GitRepo) RevParse(rev string) string {
	r.t.Helper()
	return r.Git("rev-parse", "--verify", rev+"^{commit}")
}

// Branch creates a branch at HEAD and checks it out.
func (r *GitRepo) Branch(name string) {
	r.t.Helper()
	r.Git("checkout", "-q", "-b", name)
}

// Checkout switches to an existing branch or commit.
func (r *GitRepo) Checkout(rev string) {
	r.t.Helper()
	r.Git("checkout", "-q", rev)
}

// Tag creates an annotated tag at HEAD.
func (r *GitRepo) Tag(name string) {
	r.t.Helper()
	r.clock++
	r.Git("tag", "-a", "-m", name, name)
}

// FileURL returns the file:// URL of the repository, usable for (shallow) clones.
func (r *GitRepo) FileURL() string { return "file://" + r.Dir }

// PushTo pushes all branches and tags to OWNER/NAME on the fake over smart HTTP with the fake's token,
// creating the repository there first (default branch: the current branch) when it does not exist.
func (r *GitRepo) PushTo(gh *GitHub, repoName string) {
	r.t.Helper()
	owner, name, ok := strings.Cut(repoName, "/")
	if !ok {
		r.t.Fatalf("repository name %q is not OWNER/NAME", repoName)
	}
	if gh.lookupRepo(owner, name) == nil {
		gh.CreateRepo(owner, name, r.Git("branch", "--show-current"), "")
	}
	url := gh.AuthCloneURL(repoName, gh.Token)
	r.Git("push", "-q", url, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*")
}

// CloneOption configures Clone.
type CloneOption func(*cloneOptions)

type cloneOptions struct {
	depth  int
	branch string
}

// Depth makes a shallow clone with the given depth.
func Depth(n int) CloneOption { return func(o *cloneOptions) { o.depth = n } }

// CloneBranch clones and checks out the given branch.
func CloneBranch(b string) CloneOption { return func(o *cloneOptions) { o.branch = b } }

// Clone clones url (file://, or the fake's smart HTTP URL with credentials) into a new temporary directory.
// Shallow clones need a file:// or http(s) URL; plain paths ignore --depth.
func Clone(t testing.TB, url string, opts ...CloneOption) *GitRepo {
	t.Helper()
	RequireBinary(t, "git")
	o := cloneOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	r := &GitRepo{Dir: dir, t: t, home: t.TempDir(), clock: 1800000000}
	args := []string{"clone", "-q"}
	if o.depth > 0 {
		args = append(args, "--depth", fmt.Sprint(o.depth))
	}
	if o.branch != "" {
		args = append(args, "--branch", o.branch)
	}
	out, err := runGit(context.Background(), "", r.home, nil, nil, append(args, url, dir)...)
	if err != nil {
		t.Fatalf("cloning: %v %s", err, out)
	}
	r.configure()
	return r
}
