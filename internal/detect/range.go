package detect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/git"
)

// rangeFor turns the request into a selection. The rules:
//
//   - --base B --head H: the diff B..H (trees of the two commits).
//   - --all / --services: those services, no diff.
//   - push: before..after. A new branch (before all zeros) diffs against its
//     merge base with the default branch; the first push of the default
//     branch itself selects everything. A force push whose before is not an
//     ancestor of after diffs against their merge base. A deleted branch
//     selects nothing.
//   - tag push: v1.2.3 (no "/") selects every service; <service>/v1.2.3
//     selects that service; a deleted tag selects nothing.
//   - pull_request, pull_request_target: merge base of base and head ..head.
//   - merge_group: base_sha..head_sha.
//   - workflow_dispatch: the services input, a list separated by commas or
//     spaces, or "all".
//   - any other event, or none: an error asking for --base/--head or --all.
//
// Commits missing from a shallow clone are fetched, and the clone deepened
// until merge bases are found; without a remote the compare API is used.
func rangeFor(ctx context.Context, o *options, h *history) (selection, error) {
	switch {
	case o.base != "":
		head := o.head
		if head == "" {
			head = "HEAD"
		}
		return diffRange(ctx, h, o.base, head, fmt.Sprintf("--base %s --head %s", o.base, head))
	case o.all:
		return everything(ctx, h, "", "--all selects every service")
	case len(o.services) > 0:
		return named(ctx, h, "", o.services, "selected with --services")
	}
	ev := o.event
	if ev == nil || ev.Kind == event.None {
		return selection{}, usagef("not running in GitHub Actions: pass --base REV --head REV, or --all")
	}
	switch ev.Kind {
	case event.Push:
		p := ev.PushInfo
		branch := event.Branch(p.Ref)
		if p.Deleted {
			return empty(ctx, h, "HEAD", fmt.Sprintf("push deleted %s", p.Ref))
		}
		after, err := h.ensure(ctx, p.After)
		if err != nil {
			return compareFallback(ctx, h, err, p.Before, p.After, "push")
		}
		if p.Created {
			def := ev.DefaultBranch
			if def == "" {
				return selection{}, &event.Error{Path: "GITHUB_EVENT_PATH", Msg: "push of a new branch: the payload has no repository.default_branch to diff against"}
			}
			if branch == def {
				return everything(ctx, h, after, fmt.Sprintf("first push of the default branch %s selects every service", def))
			}
			tip, err := h.ensureBranch(ctx, def)
			if err != nil {
				return compareFallback(ctx, h, err, def, after, "new branch")
			}
			mb, err := h.mergeBase(ctx, tip, after)
			if err != nil {
				return compareFallback(ctx, h, err, def, after, "new branch")
			}
			return diffOf(ctx, h, mb, after, fmt.Sprintf("new branch %s: merge base with %s (%s)..%s", branch, def, short(mb), short(after)))
		}
		before, err := h.ensure(ctx, p.Before)
		if err != nil {
			return compareFallback(ctx, h, err, p.Before, after, "push")
		}
		forced := p.Forced
		if !forced {
			// Trust the payload in a shallow clone (checking would need history);
			// with full history, verify it.
			if shallow, err := h.repo.IsShallow(ctx); err == nil && !shallow {
				anc, err := h.repo.IsAncestor(ctx, before, after)
				if err != nil {
					return selection{}, err
				}
				forced = !anc
			}
		}
		if forced {
			anc, err := h.isAncestor(ctx, before, after)
			if err != nil {
				return compareFallback(ctx, h, err, before, after, "force push")
			}
			if !anc {
				mb, err := h.mergeBase(ctx, before, after)
				if err != nil {
					return compareFallback(ctx, h, err, before, after, "force push")
				}
				return diffOf(ctx, h, mb, after, fmt.Sprintf("force push to %s: merge base of %s and %s (%s)..%s", branch, short(before), short(after), short(mb), short(after)))
			}
		}
		return diffOf(ctx, h, before, after, fmt.Sprintf("push to %s: %s..%s", branch, short(before), short(after)))

	case event.TagPush:
		p := ev.PushInfo
		if p.Deleted {
			return empty(ctx, h, "HEAD", fmt.Sprintf("tag %s deleted", ev.Tag))
		}
		head := p.After
		if ev.SHA != "" {
			head = ev.SHA
		}
		if svc, ver, ok := strings.Cut(ev.Tag, "/"); ok {
			return named(ctx, h, head, []string{svc}, fmt.Sprintf("tag %s selects service %s (version %s)", ev.Tag, svc, ver))
		}
		return everything(ctx, h, head, fmt.Sprintf("tag %s selects every service", ev.Tag))

	case event.PullRequest:
		pr := ev.PR
		base, err := h.ensure(ctx, pr.BaseSHA)
		if err != nil {
			return compareFallback(ctx, h, err, pr.BaseSHA, pr.HeadSHA, "pull request")
		}
		head, err := h.ensure(ctx, pr.HeadSHA)
		if err != nil {
			return compareFallback(ctx, h, err, pr.BaseSHA, pr.HeadSHA, "pull request")
		}
		mb, err := h.mergeBase(ctx, base, head)
		if err != nil {
			return compareFallback(ctx, h, err, base, head, "pull request")
		}
		return diffOf(ctx, h, mb, head, fmt.Sprintf("pull request #%d: merge base of %s and %s (%s)..%s", pr.Number, pr.BaseRef, pr.HeadRef, short(mb), short(head)))

	case event.MergeGroup:
		g := ev.Group
		base, err := h.ensure(ctx, g.BaseSHA)
		if err != nil {
			return compareFallback(ctx, h, err, g.BaseSHA, g.HeadSHA, "merge group")
		}
		head, err := h.ensure(ctx, g.HeadSHA)
		if err != nil {
			return compareFallback(ctx, h, err, g.BaseSHA, g.HeadSHA, "merge group")
		}
		return diffOf(ctx, h, base, head, fmt.Sprintf("merge group %s: %s..%s", g.HeadRef, short(base), short(head)))

	case event.Dispatch:
		raw := strings.TrimSpace(ev.Inputs["services"])
		if raw == "" {
			return selection{}, usagef("workflow_dispatch: set the services input to a list of services (comma or space separated) or to all")
		}
		names := strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
		head := ev.SHA
		if len(names) == 1 && names[0] == "all" {
			return everything(ctx, h, head, "workflow_dispatch input services=all")
		}
		return named(ctx, h, head, names, "workflow_dispatch input services")
	}
	return selection{}, usagef("GitHub event %q carries no commit range: run plan on push, pull_request, merge_group, workflow_dispatch or a tag, or pass --base/--head or --all", ev.Name)
}

func headOrHEAD(ctx context.Context, h *history, head string) (string, error) {
	if head == "" {
		head = "HEAD"
	}
	return h.ensure(ctx, head)
}

func everything(ctx context.Context, h *history, head, why string) (selection, error) {
	sha, err := headOrHEAD(ctx, h, head)
	if err != nil {
		return selection{}, err
	}
	return selection{head: sha, all: true, why: why, allReason: why}, nil
}

func named(ctx context.Context, h *history, head string, names []string, why string) (selection, error) {
	sha, err := headOrHEAD(ctx, h, head)
	if err != nil {
		return selection{}, err
	}
	return selection{head: sha, names: names, why: why, allReason: why}, nil
}

func empty(ctx context.Context, h *history, head, why string) (selection, error) {
	sha, err := headOrHEAD(ctx, h, head)
	if err != nil {
		return selection{}, err
	}
	return selection{head: sha, names: []string{}, why: why}, nil
}

// diffRange resolves two user-given revisions and diffs them.
func diffRange(ctx context.Context, h *history, base, head, why string) (selection, error) {
	b, err := h.ensure(ctx, base)
	if err != nil {
		return selection{}, err
	}
	hd, err := h.ensure(ctx, head)
	if err != nil {
		return selection{}, err
	}
	return diffOf(ctx, h, b, hd, why)
}

func diffOf(ctx context.Context, h *history, base, head, why string) (selection, error) {
	changes, err := h.diff(ctx, base, head)
	if err != nil {
		return selection{}, err
	}
	return selection{base: base, head: head, changes: changes, baseLocal: true, why: why}, nil
}

// compareFallback is used when local history cannot answer: it asks the
// compare API (three-dot: from the merge base) when the clone has no remote
// to fetch from. Otherwise, or when that fails too, it returns a
// HistoryError; an unknown revision with a remote available stays an
// UnknownRevisionError.
func compareFallback(ctx context.Context, h *history, cause error, base, head, what string) (selection, error) {
	var ue *git.UnknownRevisionError
	if !h.noRemote {
		if errors.As(cause, &ue) {
			return selection{}, cause
		}
		return selection{}, &HistoryError{Op: what + ": computing the commit range", Err: cause}
	}
	h.log.Info("no git history to fetch; using the GitHub compare API", zap.String("base", base), zap.String("head", head), zap.NamedError("cause", cause))
	changes, err := h.compare(ctx, base, head)
	if err != nil {
		return selection{}, &HistoryError{Op: what + ": computing the commit range", Err: errors.Join(cause, err)}
	}
	// The head tree must be local to read Dockerfiles.
	sha, err := h.repo.ResolveCommit(ctx, head)
	if err != nil {
		if sha, err = h.repo.ResolveCommit(ctx, "HEAD"); err != nil {
			return selection{}, &HistoryError{Op: what + ": reading the head commit", Err: err}
		}
	}
	baseName, local := base, false
	if b, err := h.repo.ResolveCommit(ctx, base); err == nil {
		baseName, local = b, true
	}
	return selection{base: baseName, head: sha, changes: changes, baseLocal: local,
		why: fmt.Sprintf("%s: GitHub compare %s...%s", what, short(base), short(head))}, nil
}
