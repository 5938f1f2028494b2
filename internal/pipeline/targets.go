// Package pipeline composes the stages of a delivery run — build, scan, push,
// write-back — for `automator run`, `automator build` and `automator promote
// --results`: which targets an event names, which services and commit to
// build (Builds), and in what order a run builds, pushes and writes back
// (Delivery, with its exit precedence). It owns no stage logic: each stage
// is a small interface declared here and satisfied by internal/build,
// internal/scan, internal/registry and internal/promote, wired in cmd.
package pipeline

import (
	"path"
	"strings"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/promote"
)

// Targets returns the targets a run writes to: the named ones when names is
// not empty (an unknown name is a *promote.TargetError), else those whose
// triggers match the event, in config order. Outside Actions (no event) and
// with no names, nothing is targeted.
func Targets(all promote.Targets, ev *event.Event, names []string) ([]*promote.Target, error) {
	if len(names) > 0 {
		return all.Lookup(names...)
	}
	var out []*promote.Target
	if ev == nil {
		return nil, nil
	}
	for _, t := range all {
		for _, tr := range t.Env.Triggers {
			if Matches(tr, ev) {
				out = append(out, t)
				break
			}
		}
	}
	return out, nil
}

// Matches reports whether trigger t fires for ev. Branch and tag lists are
// path.Match globs; an empty list matches any branch or tag. As in GitHub's
// workflow filters, a glob with a leading "!" excludes what it matches, and
// the last glob that matches decides (["v*", "!v*-rc*"]: releases, not
// release candidates).
func Matches(t config.Trigger, ev *event.Event) bool {
	switch t.Event {
	case "push":
		return ev.Kind == event.Push && matchAny(t.Branches, event.Branch(ev.Ref))
	case "tag":
		return ev.Kind == event.TagPush && matchAny(t.Tags, ev.Tag)
	case "pull_request":
		return ev.Kind == event.PullRequest && ev.PR != nil && matchAny(t.Branches, ev.PR.BaseRef)
	case "merge_group":
		return ev.Kind == event.MergeGroup
	case "workflow_dispatch":
		return ev.Kind == event.Dispatch && matchAny(t.Branches, event.Branch(ev.Ref))
	}
	return false
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	match := false
	for _, g := range globs {
		neg := strings.HasPrefix(g, "!")
		if ok, _ := path.Match(strings.TrimPrefix(g, "!"), s); ok {
			match = !neg
		}
	}
	return match
}
