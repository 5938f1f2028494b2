package gitops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
)

// backend is what a write-back needs from the place an environment's
// manifests live. GitHubWriter implements it with the Git Data and Pulls APIs
// (githubBackend), LocalWriter with the git CLI on a shallow clone
// (gitBackend). The write-back algorithm — read, rewrite, commit, move the ref
// without losing a racing writer's push, retry bounded by time with full
// jitter, carry over only the bot's own verified record, regenerate or stack
// the pull request branch — exists once, in writeBack, over these
// primitives. A backend value serves one write-back of one environment.
type backend interface {
	// head returns the commit branch points at; ok is false when the branch
	// does not exist.
	head(ctx context.Context, branch string) (sha string, ok bool, err error)
	// read lists the tree at commit and reads the environment's files.
	read(ctx context.Context, commit string) (*snapshot, error)
	// commit creates one commit holding base's tree with eds applied, with
	// the given parents (the first is the one the tree derives from). No
	// ref moves.
	commit(ctx context.Context, base *snapshot, eds []edited, message string, parents ...string) (string, error)
	// moveRef points branch at next. old is the commit the caller read it at
	// ("" = the branch is created and must not exist). Without force the
	// update must fast-forward; with force it replaces old as a
	// compare-and-swap on old (only where leasedForce). A lost race wraps
	// ErrRejected; a protection refusal wraps ErrProtectedBranch; any other
	// error is ready to return.
	moveRef(ctx context.Context, branch, next, old string, force bool) error
	// leasedForce reports whether a forced moveRef is a compare-and-swap.
	// Where it is not (GitHub), the writer never forces: a regenerated pull
	// request branch gets its old head as second parent, a fast-forward.
	leasedForce() bool
	// commitURL links a commit for people ("" when there is no web view).
	commitURL(sha string) string
	// compareURL links the changes of branch against base for people (""
	// when there is no web view).
	compareURL(base, branch string) string

	// prState reads what a pull request run finds on base and branch before
	// it writes.
	prState(ctx context.Context, base, branch string) (*prState, error)
	// headCommit reads a commit's message, identity and full tree listing.
	headCommit(ctx context.Context, sha string) (*headCommit, error)
	// mine reports whether who is the identity automator commits as; known
	// is false while the backend cannot tell yet (the GitHub writer learns
	// its identity from the first commit it makes).
	mine(who identity) (is, known bool)
	// explain says once, where people see it (the open pull request), why
	// automator stopped updating the branch.
	explain(ctx context.Context, st *prState, fe *ForeignCommitError) error
	// publish opens or updates the pull request showing pr (title, body)
	// after branch was left at head (head == st.branchHead: nothing was
	// written). It fills pr's number, URL, Created and Updated. A lost race
	// (a racing writer opened the PR, or moved the branch) wraps
	// ErrRejected; the run starts over.
	publish(ctx context.Context, st *prState, pr *PullRequest, head string) error
	// readPath reads any file of snap's tree (ok false when absent): the
	// files Request.Edits rewrite besides the environment's own.
	readPath(ctx context.Context, snap *snapshot, p string) (content []byte, ok bool, err error)
	// supersede withdraws the open proposal on st's branch (head
	// st.branchHead, made by automator) because the base already runs what
	// was asked and nothing is left to propose: merging it would deploy
	// images no promotion asks for any more. It returns what it withdrew
	// (nil when there was nothing to withdraw). A lost race (the branch
	// moved) wraps ErrRejected; the run starts over.
	supersede(ctx context.Context, st *prState, branch, reason string) (*PullRequest, error)
}

// ErrRejected is returned by a Pusher (and a backend's moveRef) when the
// remote refused the update because the ref moved (non-fast-forward or a
// stale lease); the writer re-reads and retries.
var ErrRejected = errors.New("the remote ref moved")

// snapshot is the environment's files at one commit.
type snapshot struct {
	commit, tree string
	shas         map[string]string // path → blob sha for every blob in the tree
	files        []file
	modes        map[string]string // path → mode (local listing only)
	paths        []string          // every blob path (local listing only)
}

// prState is what a pull request run finds before it writes.
type prState struct {
	baseHead   string
	branchHead string       // "" = the branch does not exist
	stale      bool         // the branch belongs to a closed or merged PR
	open       *PullRequest // the open pull request, where the backend has them
	has        *decorations // what the open pull request carries of the environment's labels, …
}

// writeBack is one environment's write-back over a backend.
type writeBack struct {
	b        backend
	o        *options
	req      Request
	base     string // the environment's branch
	log      *zap.Logger
	deadline time.Time // no retry after lost races starts past it
	// verified caches the Verifier's answers across attempts; dropped are
	// the carried updates it refused in the current attempt.
	verified map[string]error
	dropped  []Dropped
}

func newWriteBack(b backend, o *options, req Request, base string) *writeBack {
	req.Updates = stampUpdates(req.Updates, o.now())
	return &writeBack{b: b, o: o, req: req, base: base, verified: map[string]error{},
		log: o.log.With(zap.String("env", req.Env.Name), zap.String("repo", req.Env.Repo))}
}

func (w *writeBack) run(ctx context.Context) (*Result, error) {
	retryFor := w.o.retryFor
	if w.req.Env.RetryFor != "" {
		d, err := time.ParseDuration(w.req.Env.RetryFor)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("environment %q: retryFor %q: want a positive Go duration", w.req.Env.Name, w.req.Env.RetryFor)
		}
		retryFor = d
	}
	w.deadline = w.o.now().Add(retryFor)
	if w.req.Env.Mode == "commit" {
		return w.commit(ctx)
	}
	return w.pullRequest(ctx)
}

func (w *writeBack) result(mode string) *Result {
	return &Result{Env: w.req.Env.Name, Repo: w.req.Env.Repo, Branch: w.base, Mode: mode, Held: w.req.Held, Frozen: w.req.Freeze}
}

// retry waits before the next attempt after a lost race (exponential
// back-off with full jitter, never past the deadline), or gives up with
// ErrConflict once the deadline has passed.
func (w *writeBack) retry(ctx context.Context, doing string, attempt int, race error) error {
	left := w.deadline.Sub(w.o.now())
	if left <= 0 {
		return fmt.Errorf("environment %q: %s (%d attempts): %w", w.req.Env.Name, doing, attempt, ErrConflict)
	}
	wait := min(w.o.backoff(attempt), left)
	w.log.Info("lost a race; re-reading and re-applying", zap.String("doing", doing), zap.String("reason", race.Error()), zap.Int("attempt", attempt), zap.Duration("wait", wait))
	return w.o.sleep(ctx, wait)
}

// moved handles a moveRef failure: nil after a lost race within the bounds
// (the caller starts over), otherwise the error to return.
func (w *writeBack) moved(ctx context.Context, err error, doing string, attempt int) error {
	switch {
	case errors.Is(err, ErrRejected):
		return w.retry(ctx, doing, attempt, err)
	case errors.Is(err, ErrProtectedBranch):
		return fmt.Errorf("environment %q: %s: %w", w.req.Env.Name, doing, err)
	}
	return err
}

// commit lands the updates as one commit on the environment's branch, moved
// only by fast-forward.
func (w *writeBack) commit(ctx context.Context) (*Result, error) {
	req := w.req
	res := w.result("commit")
	doing := fmt.Sprintf("committing to %s@%s", req.Env.Repo, w.base)
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		head, ok, err := w.b.head(ctx, w.base)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("environment %q: branch %q does not exist in %s", req.Env.Name, w.base, req.Env.Repo)
		}
		snap, err := w.b.read(ctx, head)
		if err != nil {
			return nil, err
		}
		eds, err := rewriteFiles(req, snap.files, req.Updates)
		if err != nil {
			return nil, err
		}
		if eds, err = w.editFiles(ctx, snap, eds, nil); err != nil {
			return nil, err
		}
		if len(eds) == 0 {
			w.log.Info("environment already runs these images", zap.String("branch", w.base), zap.String("head", head))
			return res, nil
		}
		updates := effective(req.Updates, eds)
		subject, err := title(req, updates)
		if err != nil {
			return nil, err
		}
		msg := commitMessage(subject, req, updates, w.o.links, "", nil, false)
		sha, err := w.b.commit(ctx, snap, eds, msg, head)
		if err != nil {
			return nil, err
		}
		if err := w.b.moveRef(ctx, w.base, sha, head, false); err != nil {
			if err := w.moved(ctx, err, doing, attempt); err != nil {
				return nil, err
			}
			continue
		}
		res.Files, res.Updates, res.Message, res.Commit, res.CommitURL = filesOf(eds), updates, msg, sha, w.b.commitURL(sha)
		w.log.Info("committed", zap.String("branch", w.base), zap.String("commit", sha), zap.Int("files", len(eds)), zap.Int("attempt", attempt))
		return res, nil
	}
}

// pullRequest regenerates (or stacks on) the environment's pull request
// branch and opens or updates its pull request. Pending updates are carried
// over only from a head commit automator made (trust) and only after the
// Verifier accepted them again; a head it did not make is never written
// over (stop).
func (w *writeBack) pullRequest(ctx context.Context) (*Result, error) {
	req := w.req
	res := w.result("pull-request")
	branch := prBranch(req)
	doing := fmt.Sprintf("updating %s in %s", branch, req.Env.Repo)
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		st, err := w.b.prState(ctx, w.base, branch)
		if err != nil {
			return nil, err
		}
		snap, err := w.b.read(ctx, st.baseHead)
		if err != nil {
			return nil, err
		}
		var head *headCommit
		var record pendingBlock
		var pending []Update
		provisional := false
		w.dropped = w.dropped[:0]
		if st.branchHead != "" && !st.stale {
			if head, err = w.b.headCommit(ctx, st.branchHead); err != nil {
				return nil, err
			}
			var why string
			if record, why, provisional, err = w.trust(ctx, head, snap); err != nil {
				return nil, err
			} else if why != "" {
				return nil, w.stop(ctx, st, branch, head, why)
			}
			if pending, err = w.reverify(ctx, w.dropHeld(record.Updates)); err != nil {
				return nil, err
			}
		}
		merged := carry(pending, req.Updates)
		eds, err := rewriteFiles(req, snap.files, merged)
		if err != nil {
			return nil, err
		}
		var pendingTree *snapshot
		if head != nil && len(record.Files) > 0 {
			pendingTree = &snapshot{commit: head.sha, shas: head.blobs}
		}
		if eds, err = w.editFiles(ctx, snap, eds, pendingTree); err != nil {
			return nil, err
		}
		if len(eds) == 0 {
			w.log.Info("environment already runs these images", zap.String("branch", w.base))
			if st.branchHead == "" || st.stale {
				return res, nil
			}
			// The open proposal (automator's own, trust said so) asks for
			// images the base does not run and no pending update asks for
			// any more: withdraw it rather than leave it mergeable.
			gone, err := w.b.supersede(ctx, st, branch, supersededReason)
			if err != nil {
				if !errors.Is(err, ErrRejected) {
					return nil, err
				}
				if err := w.retry(ctx, doing, attempt, err); err != nil {
					return nil, err
				}
				continue
			}
			if gone != nil {
				w.log.Info("superseded the pull request", zap.String("branch", branch), zap.Int("pr", gone.Number))
			}
			res.Superseded = gone
			return res, nil
		}
		updates := effective(merged, eds)
		subject, err := title(req, updates)
		if err != nil {
			return nil, err
		}
		res.Files, res.Updates, res.Dropped = filesOf(eds), updates, append([]Dropped(nil), w.dropped...)

		// Is the branch already what we would write, record included? (A
		// moved base alone does not regenerate it.)
		same := head != nil && holdsAll(head.blobs, wantBlobs(snap, eds)) && sameUpdates(record.Updates, updates) && len(record.Files) == len(extraBlobs(snap, eds))
		at := st.branchHead
		if !same {
			msg := commitMessage(subject, req, updates, w.o.links, st.baseHead, extraBlobs(snap, eds), true)
			res.Message = msg
			parents, force := w.parents(st, record)
			sha, err := w.b.commit(ctx, snap, eds, msg, parents...)
			if err != nil {
				return nil, err
			}
			if provisional {
				// The commit just made tells the backend who automator is.
				if mine, known := w.b.mine(head.who); known && !mine {
					return nil, w.stop(ctx, st, branch, head, "made by "+head.who.author.String()+", not by automator's identity")
				}
			}
			if err := w.b.moveRef(ctx, branch, sha, st.branchHead, force); err != nil {
				if err := w.moved(ctx, err, doing, attempt); err != nil {
					return nil, err
				}
				continue
			}
			at = sha
			res.Commit, res.CommitURL = sha, w.b.commitURL(sha)
		}

		pr := &PullRequest{Branch: branch, Title: subject, Body: body(req, bodyText{branch: branch, base: st.baseHead, updates: updates, eds: eds, files: extraBlobs(snap, eds),
			dropped: w.dropped, links: w.o.links, compare: w.b.compareURL(w.base, branch)}), Freeze: req.Freeze}
		res.PR = pr
		if err := w.b.publish(ctx, st, pr, at); err != nil {
			if !errors.Is(err, ErrRejected) {
				return nil, err
			}
			if err := w.retry(ctx, doing, attempt, err); err != nil {
				return nil, err
			}
			continue
		}
		if !pr.Created && !pr.Updated && same {
			res.Commit = ""
			w.log.Info("pull request already up to date", zap.String("branch", branch), zap.Int("pr", pr.Number))
			return res, nil
		}
		if res.Commit == "" {
			res.Commit = at
		}
		w.log.Info("pull request ready", zap.String("branch", branch), zap.Int("pr", pr.Number), zap.Bool("created", pr.Created), zap.Bool("updated", pr.Updated), zap.String("head", at), zap.Int("attempt", attempt))
		return res, nil
	}
}

// supersededReason says why a pull request was withdrawn.
const supersededReason = "superseded, the environment already runs these images"

// parents chooses the new pull request commit's parents: stacked on
// automator's own head while the base has not moved (a fast-forward, so a
// racing writer is detected); otherwise regenerated from the current base,
// replacing the old head by a leased force where the backend has one, or
// keeping it as second parent (still a fast-forward) where it has not.
func (w *writeBack) parents(st *prState, record pendingBlock) (parents []string, force bool) {
	switch {
	case st.branchHead == "":
		return []string{st.baseHead}, false
	case !st.stale && record.Base == st.baseHead:
		return []string{st.branchHead}, false
	case w.b.leasedForce():
		return []string{st.baseHead}, true
	}
	return []string{st.baseHead, st.branchHead}, false
}

// imagesAt reads the images env's files pin at commit (Writer.Current).
func imagesAt(ctx context.Context, b backend, env config.Environment, commit string, images map[string]string) ([]Image, error) {
	snap, err := b.read(ctx, commit)
	if err != nil {
		return nil, err
	}
	return readImages(env, snap.files, images)
}

// wantBlobs is the blob name every environment file has after the write:
// the base's for untouched files, the new content's for edited ones.
func wantBlobs(base *snapshot, eds []edited) map[string]string {
	want := map[string]string{}
	for _, f := range base.files {
		want[f.Path] = base.shas[f.Path]
	}
	for _, e := range eds {
		want[e.Path] = gitBlobSHA(e.New)
	}
	return want
}

// holdsAll reports whether have (path → blob name) matches every entry of want.
func holdsAll(have, want map[string]string) bool {
	for p, s := range want {
		if have[p] != s {
			return false
		}
	}
	return true
}

func filesOf(eds []edited) []FileChange {
	out := make([]FileChange, len(eds))
	for i, e := range eds {
		out[i] = FileChange{Path: e.Path, Diff: e.Diff, Changes: e.Changes, Skipped: e.Skipped}
	}
	return out
}

// lostRace marks a publish step that lost to a racing writer.
func lostRace(reason string) error { return fmt.Errorf("%s: %w", reason, ErrRejected) }

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
