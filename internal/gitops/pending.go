package gitops

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
)

// Verifier re-checks an update that a pull request branch carries over from
// an earlier run, before the writer writes it again under its own identity.
// The promotion layer provides it (registry and gate are its concerns); the
// writer only consumes it.
type Verifier interface {
	// Verify returns nil when u may still enter env: its digest exists in
	// the registry and passed env's gate. Otherwise the error says why; the
	// update is then dropped from the pull request and named in its body.
	Verify(ctx context.Context, env config.Environment, u Update) error
}

// ErrUnverified is the default Verifier's answer: without a configured
// Verifier an update carried from an earlier run is refused, never trusted.
var ErrUnverified = errors.New("no verifier is configured to re-check updates carried from earlier runs")

// refuseCarried is the default Verifier: it refuses every carried update.
type refuseCarried struct{}

func (refuseCarried) Verify(context.Context, config.Environment, Update) error { return ErrUnverified }

// Dropped is a pending update of an earlier run that the Verifier refused:
// it is not written again, and the pull request says so.
type Dropped struct {
	Update Update
	Reason string
}

// ForeignCommitError reports that the pull request branch's head is a
// commit automator did not make (a reviewer's push, or anything that is not
// exactly what automator would write). automator never overwrites it: it
// stops updating that pull request, says why on it once, and fails the run
// so that the updates asked for are not dropped silently.
type ForeignCommitError struct {
	Env, Repo, Branch string
	// Commit and Author identify the head commit.
	Commit, Author string
	// Reason says why it is not automator's.
	Reason string
	// PR is the open pull request of the branch (0 when none).
	PR int
}

// Error says what was found and how to resume.
func (e *ForeignCommitError) Error() string {
	on := "branch " + e.Branch
	if e.PR != 0 {
		on = fmt.Sprintf("pull request #%d (%s)", e.PR, e.Branch)
	}
	return fmt.Sprintf("environment %q: %s in %s has a commit automator did not make (%s by %s: %s); automator does not overwrite it and stopped updating %s: merge or close it, or delete the branch, and the next run starts afresh",
		e.Env, e.Branch, e.Repo, short(e.Commit), e.Author, e.Reason, on)
}

// person is a commit's author or committer.
type person struct{ Name, Email string }

func (p person) String() string { return p.Name + " <" + p.Email + ">" }

// identity is who made a commit, as the remote records it.
type identity struct {
	author, committer person
	// verified is GitHub's signature verification (false for git remotes).
	verified bool
}

// headCommit is what a write-back reads of a pull request branch's head.
type headCommit struct {
	sha     string
	message string
	who     identity
	// blobs maps every blob path of its tree to its object name.
	blobs map[string]string
}

// carry merges the updates carried from earlier runs with this run's: per
// service this run's update wins. That is the order in which write-backs
// reach the branch, which the remote's fast-forward check serialises and no
// client clock can change (a runner whose clock is ahead gains nothing; At
// is informational). Asking for what is already pending keeps the pending
// entry unchanged, so a re-run with nothing new changes no byte.
func carry(pending, fresh []Update) []Update {
	by := map[string]Update{}
	for _, u := range pending {
		by[u.Service] = u
	}
	for _, u := range fresh {
		if old, ok := by[u.Service]; ok && old.sameTarget(u) {
			continue
		}
		by[u.Service] = u
	}
	out := make([]Update, 0, len(by))
	for _, u := range by {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// trust decides whether the pull request branch's head is automator's own
// record: it carries a pending block for this environment, it was made by
// automator's identity (provisional when the backend does not know it yet:
// the commit this run makes tells), and its tree is exactly what automator
// writes from the block's base and updates. why is "" when it is.
func (w *writeBack) trust(ctx context.Context, h *headCommit, base *snapshot) (pb pendingBlock, why string, provisional bool, err error) {
	pb = decodeBlock(h.message)
	if pb.Version == 0 || pb.Env != w.req.Env.Name || pb.Base == "" {
		return pb, "its head commit carries no automator record", false, nil
	}
	mine, known := w.b.mine(h.who)
	if known && !mine {
		return pb, "made by " + h.who.author.String() + ", not by automator's identity", false, nil
	}
	bs := base
	if pb.Base != base.commit {
		if bs, err = w.b.read(ctx, pb.Base); err != nil {
			w.log.Info("cannot read the base a pull request branch was written from", zap.String("base", pb.Base), zap.Error(err))
			return pb, "its recorded base " + short(pb.Base) + " cannot be read", false, nil
		}
	}
	eds, err := rewriteFiles(w.req, bs.files, pb.Updates)
	if err != nil {
		return pb, "its record does not apply to its base: " + err.Error(), false, nil
	}
	want := wantBlobs(bs, eds)
	for p, s := range h.blobs {
		if f, ok := pb.Files[p]; ok && f == s {
			continue
		}
		if ws, ok := want[p]; (ok && s != ws) || (!ok && bs.shas[p] != s) {
			return pb, "its files differ from what automator writes (" + p + ")", false, nil
		}
	}
	for p := range bs.shas {
		if _, ok := h.blobs[p]; !ok {
			return pb, "its files differ from what automator writes (" + p + " removed)", false, nil
		}
	}
	return pb, "", !known, nil
}

// reverify returns the carried updates that the Verifier still accepts,
// skipping those this run replaces; refused ones are recorded in w.dropped.
func (w *writeBack) reverify(ctx context.Context, carried []Update) ([]Update, error) {
	fresh := map[string]bool{}
	for _, u := range w.req.Updates {
		fresh[u.Service] = true
	}
	w.dropped = w.dropped[:0]
	var out []Update
	for _, u := range carried {
		if fresh[u.Service] {
			out = append(out, u) // carry replaces it unless it asks for the same
			continue
		}
		key := u.Service + "\x00" + u.Ref()
		verr, seen := w.verified[key]
		if !seen {
			verr = w.o.verifier.Verify(ctx, w.req.Env, u)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			w.verified[key] = verr
		}
		if verr != nil {
			w.log.Warn("not carrying over a pending update that cannot be re-verified", zap.String("service", u.Service), zap.String("image", u.Ref()), zap.Error(verr))
			w.dropped = append(w.dropped, Dropped{Update: u, Reason: verr.Error()})
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// stop refuses to write over a foreign head: the backend explains it once
// on the pull request, and the run fails with a ForeignCommitError.
func (w *writeBack) stop(ctx context.Context, st *prState, branch string, h *headCommit, why string) error {
	fe := &ForeignCommitError{Env: w.req.Env.Name, Repo: w.req.Env.Repo, Branch: branch, Commit: h.sha, Author: h.who.author.String(), Reason: why}
	if st.open != nil {
		fe.PR = st.open.Number
	}
	w.log.Warn("the pull request branch has a commit automator did not make; not overwriting it", zap.String("branch", branch), zap.String("commit", h.sha), zap.String("reason", why))
	if err := w.b.explain(ctx, st, fe); err != nil {
		return errors.Join(fe, err)
	}
	return fe
}

// stopMarker marks automator's one comment on a pull request it stopped
// updating.
const stopMarker = "<!-- automator:stopped -->"

// stopComment is the comment explaining why automator stopped.
func stopComment(fe *ForeignCommitError) string {
	return fmt.Sprintf("%s\nautomator stopped updating this pull request: the head of `%s`, commit %s by %s, was not made by automator (%s).\n\n"+
		"automator never overwrites a commit it did not make, and it does not carry updates over from one. "+
		"Runs that promote into **%s** fail until this is resolved: merge this pull request, or close it (the next run opens a fresh one), "+
		"or reset `%s` to automator's last commit.\n", stopMarker, fe.Branch, fe.Commit, fe.Author, fe.Reason, fe.Env, fe.Branch)
}
