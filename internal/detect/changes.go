package detect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/git"
)

// Comparer is the slice of the GitHub API used when the local clone has no
// usable history (no remote to deepen from): the compare endpoint lists the
// files changed between the merge base of base and head and head.
// *github.RepositoriesService satisfies it.
type Comparer interface {
	CompareCommits(ctx context.Context, owner, repo, base, head string, opts *github.ListOptions) (*github.CommitsComparison, *github.Response, error)
}

var _ Comparer = (*github.RepositoriesService)(nil)

// compareFileLimit is how many files GitHub's compare endpoint returns at
// most; a response that reaches it may be truncated.
const compareFileLimit = 300

// deepenSteps are the successive --deepen amounts tried before --unshallow.
var deepenSteps = []int{10, 50, 250, 1000}

// HistoryError says the commit range could not be computed: the commits are
// not in the clone, it could not be deepened, and the compare API was not
// available or failed. It is never papered over by building everything or
// nothing.
type HistoryError struct {
	Op  string
	Err error
}

func (e *HistoryError) Error() string {
	return fmt.Sprintf("%s: %v (fetch more history, e.g. actions/checkout with fetch-depth: 0, or give automator a GitHub token so it can use the compare API)", e.Op, e.Err)
}

func (e *HistoryError) Unwrap() error { return e.Err }

// history finds commits and merge bases, fetching from the remote as needed.
type history struct {
	repo     *git.Repo
	remote   string
	log      *zap.Logger
	comparer Comparer
	owner    string
	name     string
	// noRemote is set when the clone has no remote to fetch from.
	noRemote bool
}

func (h *history) init(ctx context.Context) error {
	if h.remote == "" {
		h.noRemote = true
		return nil
	}
	remotes, err := h.repo.Remotes(ctx)
	if err != nil {
		return fmt.Errorf("listing git remotes: %w", err)
	}
	found := false
	for _, r := range remotes {
		found = found || r == h.remote
	}
	h.noRemote = !found
	return nil
}

// ensure makes rev available locally and returns its full commit name. A
// missing full object name is fetched (depth 1); a missing branch name is
// fetched into refs/remotes/<remote>/<branch>.
func (h *history) ensure(ctx context.Context, rev string) (string, error) {
	sha, err := h.repo.ResolveCommit(ctx, rev)
	var ue *git.UnknownRevisionError
	if err == nil || !errors.As(err, &ue) || h.noRemote {
		return sha, err
	}
	if !isFullSHA(rev) {
		if b, ferr := h.ensureBranch(ctx, strings.TrimPrefix(rev, "refs/heads/")); ferr == nil {
			return b, nil
		}
		return "", err
	}
	h.log.Debug("fetching missing commit", zap.String("rev", rev), zap.String("remote", h.remote))
	if ferr := h.repo.Fetch(ctx, h.remote, git.FetchOptions{Depth: 1}, rev); ferr != nil {
		h.log.Debug("fetching missing commit failed", zap.String("rev", rev), zap.Error(ferr))
		return "", err
	}
	return h.repo.ResolveCommit(ctx, rev)
}

func isFullSHA(s string) bool {
	return len(s) == 40 && strings.Trim(s, "0123456789abcdef") == ""
}

// ensureBranch makes refs/remotes/<remote>/<branch> available and returns its commit.
func (h *history) ensureBranch(ctx context.Context, branch string) (string, error) {
	ref := "refs/remotes/" + h.remote + "/" + branch
	if sha, err := h.repo.ResolveCommit(ctx, ref); err == nil {
		return sha, nil
	}
	if sha, err := h.repo.ResolveCommit(ctx, "refs/heads/"+branch); err == nil && h.noRemote {
		return sha, nil
	}
	if h.noRemote {
		return "", &git.UnknownRevisionError{Rev: branch, Err: errors.New("no such branch and no remote to fetch it from")}
	}
	if err := h.repo.Fetch(ctx, h.remote, git.FetchOptions{Depth: 1}, "+refs/heads/"+branch+":"+ref); err != nil {
		return "", fmt.Errorf("fetching default branch %q: %w", branch, err)
	}
	return h.repo.ResolveCommit(ctx, ref)
}

// mergeBase returns the merge base of a and b (full names), deepening a
// shallow clone step by step (then unshallowing) until it is found.
func (h *history) mergeBase(ctx context.Context, a, b string) (string, error) {
	for step := 0; ; step++ {
		mb, err := h.repo.MergeBase(ctx, a, b)
		if err == nil {
			return mb, nil
		}
		if !errors.Is(err, git.ErrNoMergeBase) {
			return "", err
		}
		shallow, serr := h.repo.IsShallow(ctx)
		if serr != nil {
			return "", serr
		}
		if !shallow || h.noRemote {
			return "", err
		}
		opts := git.FetchOptions{Unshallow: true}
		if step < len(deepenSteps) {
			opts = git.FetchOptions{Deepen: deepenSteps[step]}
		} else if step > len(deepenSteps) {
			return "", err
		}
		h.log.Info("deepening shallow clone to find merge base",
			zap.String("a", a), zap.String("b", b), zap.Int("deepen", opts.Deepen), zap.Bool("unshallow", opts.Unshallow))
		if ferr := h.repo.Fetch(ctx, h.remote, opts, a, b); ferr != nil {
			return "", fmt.Errorf("deepening history to find the merge base of %s and %s: %w", short(a), short(b), ferr)
		}
	}
}

// isAncestor answers whether a is an ancestor of b, deepening a shallow
// clone until the answer is certain.
func (h *history) isAncestor(ctx context.Context, a, b string) (bool, error) {
	mb, err := h.mergeBase(ctx, a, b)
	if errors.Is(err, git.ErrNoMergeBase) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return mb == a, nil
}

// diff lists the changes from base to head with rename detection.
func (h *history) diff(ctx context.Context, base, head string) ([]git.Change, error) {
	return h.repo.Diff(ctx, base, head)
}

// compare lists the files GitHub's compare API reports for base...head.
func (h *history) compare(ctx context.Context, base, head string) ([]git.Change, error) {
	if h.comparer == nil || h.owner == "" || h.name == "" {
		return nil, errors.New("the GitHub compare API is not configured (no token or repository)")
	}
	var out []git.Change
	opts := &github.ListOptions{PerPage: 100}
	total := 0
	for {
		cmp, resp, err := h.comparer.CompareCommits(ctx, h.owner, h.name, base, head, opts)
		if err != nil {
			return nil, fmt.Errorf("comparing %s...%s in %s/%s: %w", short(base), short(head), h.owner, h.name, err)
		}
		total += len(cmp.Files)
		for _, f := range cmp.Files {
			c := git.Change{Path: f.GetFilename()}
			switch f.GetStatus() {
			case "added":
				c.Status = git.Added
			case "removed":
				c.Status = git.Deleted
			case "renamed":
				c.Status, c.OldPath = git.Renamed, f.GetPreviousFilename()
			case "copied":
				c.Status, c.OldPath = git.Copied, f.GetPreviousFilename()
			default:
				c.Status = git.Modified
			}
			out = append(out, c)
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts = &github.ListOptions{PerPage: opts.PerPage, Page: resp.NextPage}
	}
	if total >= compareFileLimit {
		return nil, fmt.Errorf("comparing %s...%s in %s/%s: GitHub lists at most %d changed files and this range has at least that many", short(base), short(head), h.owner, h.name, compareFileLimit)
	}
	return dedupeChanges(out), nil
}

func dedupeChanges(cs []git.Change) []git.Change {
	seen := map[git.Change]bool{}
	out := cs[:0]
	for _, c := range cs {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func short(sha string) string {
	if isFullSHA(sha) {
		return sha[:12]
	}
	return sha
}
