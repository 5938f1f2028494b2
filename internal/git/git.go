// Package git is a small, context-first wrapper over the git command line.
//
// It exists so that every stage that touches a repository (change detection
// today, write-back later) runs git the same way: one Repo value bound to a
// work tree, every call taking a ctx that cancels the child process, a fixed
// environment that keeps user configuration (pagers, colour, locale, prompts)
// out of the output we parse, and typed errors for what callers branch on
// (an unknown revision, a shallow history). Output is parsed from NUL-separated
// or porcelain formats only, never from human-readable text.
//
// The git binary must be on PATH (or given with WithBinary). Nothing here
// shells out through a shell: arguments are passed as argv, so revisions and
// paths from untrusted event payloads cannot inject commands. Revisions that
// start with "-" are rejected before they reach git.
package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ZeroSHA is the all-zeros object name GitHub sends as "before" of a push that
// created a branch and as "after" of a push that deleted one.
const ZeroSHA = "0000000000000000000000000000000000000000"

// IsZero reports whether rev is the all-zeros object name (of any length).
func IsZero(rev string) bool {
	return rev != "" && strings.Trim(rev, "0") == ""
}

// Repo runs git commands in one work tree (or bare repository).
// A Repo is safe for concurrent use: it holds no mutable state.
type Repo struct {
	dir    string
	binary string
	env    []string
}

type options struct {
	binary string
	env    []string
}

// Option configures Open.
type Option func(*options) error

// WithBinary runs the given git executable instead of the one on PATH.
func WithBinary(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("git binary path is empty")
		}
		o.binary = path
		return nil
	}
}

// WithEnv adds KEY=VALUE entries to the environment of every git process,
// e.g. GIT_SSH_COMMAND or author identity for commits.
func WithEnv(kv ...string) Option {
	return func(o *options) error {
		for _, e := range kv {
			if !strings.Contains(e, "=") {
				return fmt.Errorf("environment entry %q is not KEY=VALUE", e)
			}
		}
		o.env = append(o.env, kv...)
		return nil
	}
}

// Open returns a Repo for the work tree at dir. It does not check that dir is
// a repository; use TopLevel for that.
func Open(dir string, opts ...Option) (*Repo, error) {
	o := options{binary: "git"}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving repository directory %q: %w", dir, err)
	}
	env := append(os.Environ(),
		"GIT_TERMINAL_PROMPT=0", // never block on a credential prompt
		"GIT_PAGER=cat", "PAGER=cat",
		"LC_ALL=C", "LANG=C",
		"GIT_OPTIONAL_LOCKS=0", // read-only commands must not fight over index.lock
	)
	env = append(env, o.env...)
	return &Repo{dir: abs, binary: o.binary, env: env}, nil
}

// Dir is the directory git runs in.
func (r *Repo) Dir() string { return r.dir }

// Error is a failed git command: its arguments, exit status and stderr.
// Callers test for specific conditions with errors.Is against the sentinels
// below or errors.As against *UnknownRevisionError.
type Error struct {
	Args     []string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// UnknownRevisionError says a revision does not name a commit in the
// repository (a typo, or history not fetched). It is a usage error: commands
// exit with status 2.
type UnknownRevisionError struct {
	Rev string
	Err error
}

func (e *UnknownRevisionError) Error() string {
	return fmt.Sprintf("unknown revision %q: not a commit in this repository (mistyped, or not fetched)", e.Rev)
}

func (e *UnknownRevisionError) Unwrap() error { return e.Err }

// ErrNoMergeBase is returned by MergeBase when the two commits share no
// history in the local repository (unrelated, or the clone is too shallow).
var ErrNoMergeBase = errors.New("no merge base")

// ErrNotRepository is returned when the directory is not inside a git work tree.
var ErrNotRepository = errors.New("not a git repository")

// run executes git with args and returns stdout. stdin may be nil.
func (r *Repo) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.binary, args...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), ctxErr)
		}
		ge := &Error{Args: args, Stderr: stderr.String(), Err: err, ExitCode: -1}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			// Kept as a field and as text, not as the *exec.ExitError: its
			// ExitCode method would let git's status (128) become the CLI's
			// exit code, which must be one of the documented ones.
			ge.ExitCode = ee.ExitCode()
			ge.Err = fmt.Errorf("exit status %d", ee.ExitCode())
		}
		if strings.Contains(ge.Stderr, "not a git repository") {
			ge.Err = ErrNotRepository
		}
		return nil, ge
	}
	return stdout.Bytes(), nil
}

// Run runs an arbitrary git command and returns its stdout, for the rare
// operation this package does not wrap. Prefer the typed methods.
func (r *Repo) Run(ctx context.Context, args ...string) ([]byte, error) {
	return r.run(ctx, nil, args...)
}

func checkRev(rev string) error {
	if rev == "" {
		return &UnknownRevisionError{Rev: rev, Err: errors.New("empty revision")}
	}
	if strings.HasPrefix(rev, "-") {
		return &UnknownRevisionError{Rev: rev, Err: errors.New("revision starts with '-'")}
	}
	return nil
}

// TopLevel returns the absolute path of the work tree's root.
func (r *Repo) TopLevel(ctx context.Context) (string, error) {
	out, err := r.run(ctx, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// ResolveCommit returns the full object name of the commit rev names
// (a branch, tag, SHA, HEAD~2, …). When rev names no commit present locally it
// returns *UnknownRevisionError.
func (r *Repo) ResolveCommit(ctx context.Context, rev string) (string, error) {
	if err := checkRev(rev); err != nil {
		return "", err
	}
	out, err := r.run(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) && ge.ExitCode == 1 {
			return "", &UnknownRevisionError{Rev: rev, Err: err}
		}
		return "", fmt.Errorf("resolving %q: %w", rev, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CommitTime returns the committer time of the commit rev names, in UTC:
// the timestamp of reproducible builds.
func (r *Repo) CommitTime(ctx context.Context, rev string) (time.Time, error) {
	if err := checkRev(rev); err != nil {
		return time.Time{}, err
	}
	out, err := r.run(ctx, nil, "show", "-s", "--format=%ct", "--end-of-options", rev)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the time of commit %s: %w", rev, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the time of commit %s: %w", rev, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// CurrentBranch returns the full ref HEAD points to (refs/heads/main), or ""
// when HEAD is detached.
func (r *Repo) CurrentBranch(ctx context.Context) (string, error) {
	out, err := r.run(ctx, nil, "symbolic-ref", "-q", "HEAD")
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) && ge.ExitCode == 1 {
			return "", nil // detached
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// HasCommit reports whether rev names a commit present in the local object store.
func (r *Repo) HasCommit(ctx context.Context, rev string) (bool, error) {
	_, err := r.ResolveCommit(ctx, rev)
	var ue *UnknownRevisionError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ue):
		return false, nil
	default:
		return false, err
	}
}

// MergeBase returns the best common ancestor of a and b. It returns
// ErrNoMergeBase when they share no local history, which in a shallow clone
// may only mean that not enough history was fetched (see Deepen).
func (r *Repo) MergeBase(ctx context.Context, a, b string) (string, error) {
	if err := checkRev(a); err != nil {
		return "", err
	}
	if err := checkRev(b); err != nil {
		return "", err
	}
	out, err := r.run(ctx, nil, "merge-base", "--end-of-options", a, b)
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) && ge.ExitCode == 1 && strings.TrimSpace(ge.Stderr) == "" {
			return "", fmt.Errorf("merge base of %s and %s: %w", a, b, ErrNoMergeBase)
		}
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// IsAncestor reports whether ancestor is reachable from descendant. In a
// shallow clone a false answer may come from missing history.
func (r *Repo) IsAncestor(ctx context.Context, ancestor, descendant string) (bool, error) {
	if err := checkRev(ancestor); err != nil {
		return false, err
	}
	if err := checkRev(descendant); err != nil {
		return false, err
	}
	_, err := r.run(ctx, nil, "merge-base", "--is-ancestor", "--end-of-options", ancestor, descendant)
	if err == nil {
		return true, nil
	}
	var ge *Error
	if errors.As(err, &ge) && ge.ExitCode == 1 {
		return false, nil
	}
	return false, fmt.Errorf("checking whether %s is an ancestor of %s: %w", ancestor, descendant, err)
}

// IsShallow reports whether the repository is a shallow clone.
func (r *Repo) IsShallow(ctx context.Context) (bool, error) {
	out, err := r.run(ctx, nil, "rev-parse", "--is-shallow-repository")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "true", nil
}

// Remotes lists the configured remote names.
func (r *Repo) Remotes(ctx context.Context) ([]string, error) {
	out, err := r.run(ctx, nil, "remote")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// FetchOptions selects how much history Fetch brings in. At most one of
// Depth, Deepen and Unshallow may be set.
type FetchOptions struct {
	// Depth limits the fetched history to this many commits from each tip.
	Depth int
	// Deepen extends the shallow boundary by this many commits.
	Deepen int
	// Unshallow fetches the complete history.
	Unshallow bool
	// Tags fetches tags too; by default --no-tags is passed.
	Tags bool
}

// Fetch fetches refspecs (refs or object names) from remote.
func (r *Repo) Fetch(ctx context.Context, remote string, opts FetchOptions, refspecs ...string) error {
	set := 0
	for _, b := range []bool{opts.Depth > 0, opts.Deepen > 0, opts.Unshallow} {
		if b {
			set++
		}
	}
	if set > 1 {
		return errors.New("fetch: set at most one of Depth, Deepen and Unshallow")
	}
	if remote == "" || strings.HasPrefix(remote, "-") {
		return fmt.Errorf("fetch: invalid remote %q", remote)
	}
	args := []string{"fetch", "--quiet", "--no-write-fetch-head"}
	if !opts.Tags {
		args = append(args, "--no-tags")
	}
	switch {
	case opts.Depth > 0:
		args = append(args, fmt.Sprintf("--depth=%d", opts.Depth))
	case opts.Deepen > 0:
		args = append(args, fmt.Sprintf("--deepen=%d", opts.Deepen))
	case opts.Unshallow:
		args = append(args, "--unshallow")
	}
	for _, rs := range refspecs {
		if strings.HasPrefix(rs, "-") {
			return fmt.Errorf("fetch: invalid refspec %q", rs)
		}
	}
	args = append(args, remote)
	args = append(args, refspecs...)
	if _, err := r.run(ctx, nil, args...); err != nil {
		return fmt.Errorf("fetching from %s: %w", remote, err)
	}
	return nil
}

// ChangeStatus is the kind of change of one path in a diff.
type ChangeStatus byte

// Change statuses as git's --name-status prints them.
const (
	Added    ChangeStatus = 'A'
	Copied   ChangeStatus = 'C'
	Deleted  ChangeStatus = 'D'
	Modified ChangeStatus = 'M'
	Renamed  ChangeStatus = 'R'
	TypeChg  ChangeStatus = 'T'
	Unmerged ChangeStatus = 'U'
)

// Change is one changed path between two trees. For renames and copies OldPath
// holds the source path; otherwise it is empty.
type Change struct {
	Status  ChangeStatus
	Path    string
	OldPath string
}

// Diff lists the paths that differ between the trees of commits from and to
// (a two-dot diff: no merge base is involved), with rename detection. Paths
// are slash-separated and relative to the repository root.
func (r *Repo) Diff(ctx context.Context, from, to string) ([]Change, error) {
	if err := checkRev(from); err != nil {
		return nil, err
	}
	if err := checkRev(to); err != nil {
		return nil, err
	}
	out, err := r.run(ctx, nil, "-c", "core.quotePath=false", "diff", "--name-status", "-z",
		"--find-renames", "--no-ext-diff", "--no-textconv", "--end-of-options", from, to)
	if err != nil {
		return nil, fmt.Errorf("diffing %s..%s: %w", from, to, err)
	}
	return ParseNameStatusZ(out)
}

// ParseNameStatusZ parses the output of `git diff --name-status -z`.
func ParseNameStatusZ(out []byte) ([]Change, error) {
	fields := bytes.Split(out, []byte{0})
	if n := len(fields); n > 0 && len(fields[n-1]) == 0 {
		fields = fields[:n-1]
	}
	var changes []Change
	for i := 0; i < len(fields); {
		st := fields[i]
		if len(st) == 0 {
			return nil, fmt.Errorf("parsing diff output: empty status at field %d", i)
		}
		c := Change{Status: ChangeStatus(st[0])}
		switch c.Status {
		case Renamed, Copied:
			if i+2 >= len(fields) {
				return nil, fmt.Errorf("parsing diff output: truncated %c entry", st[0])
			}
			c.OldPath, c.Path = string(fields[i+1]), string(fields[i+2])
			i += 3
		default:
			if i+1 >= len(fields) {
				return nil, fmt.Errorf("parsing diff output: truncated %c entry", st[0])
			}
			c.Path = string(fields[i+1])
			i += 2
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// LsFiles lists tracked files of the tree of rev (recursively), slash-separated
// and relative to the repository root. Use "HEAD" for the checked-out commit.
func (r *Repo) LsFiles(ctx context.Context, rev string) ([]string, error) {
	if err := checkRev(rev); err != nil {
		return nil, err
	}
	out, err := r.run(ctx, nil, "-c", "core.quotePath=false", "ls-tree", "-r", "-z", "--name-only", "--full-tree", "--end-of-options", rev)
	if err != nil {
		return nil, fmt.Errorf("listing files of %s: %w", rev, err)
	}
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	return files, nil
}

// ErrPathNotFound is returned by ReadFile when the path does not exist at rev.
var ErrPathNotFound = errors.New("path not found")

// ReadFile returns the content of path in the tree of rev. A path that is
// absent at rev gives an error wrapping ErrPathNotFound.
func (r *Repo) ReadFile(ctx context.Context, rev, path string) ([]byte, error) {
	if err := checkRev(rev); err != nil {
		return nil, err
	}
	out, err := r.run(ctx, nil, "cat-file", "blob", rev+":"+path)
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) && ge.ExitCode == 128 {
			return nil, fmt.Errorf("reading %s at %s: %w", path, rev, ErrPathNotFound)
		}
		return nil, fmt.Errorf("reading %s at %s: %w", path, rev, err)
	}
	return out, nil
}

// ReadFiles returns the contents of many paths at rev with one git process
// (cat-file --batch). Paths absent at rev are missing from the result map.
func (r *Repo) ReadFiles(ctx context.Context, rev string, paths []string) (map[string][]byte, error) {
	if err := checkRev(rev); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	var in bytes.Buffer
	for _, p := range paths {
		if strings.ContainsAny(p, "\n") {
			return nil, fmt.Errorf("reading %q at %s: path contains a newline", p, rev)
		}
		in.WriteString(rev + ":" + p + "\n")
	}
	out, err := r.run(ctx, in.Bytes(), "cat-file", "--batch")
	if err != nil {
		return nil, fmt.Errorf("reading %d files at %s: %w", len(paths), rev, err)
	}
	res := make(map[string][]byte, len(paths))
	for _, p := range paths {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("reading %s at %s: truncated cat-file output", p, rev)
		}
		header := string(out[:nl])
		out = out[nl+1:]
		if strings.HasSuffix(header, " missing") || strings.HasSuffix(header, " ambiguous") {
			continue
		}
		var sha, typ string
		var size int
		if _, err := fmt.Sscanf(header, "%s %s %d", &sha, &typ, &size); err != nil {
			return nil, fmt.Errorf("reading %s at %s: bad cat-file header %q", p, rev, header)
		}
		if len(out) < size+1 {
			return nil, fmt.Errorf("reading %s at %s: truncated cat-file output", p, rev)
		}
		if typ == "blob" {
			res[p] = out[:size:size]
		}
		out = out[size+1:]
	}
	return res, nil
}
