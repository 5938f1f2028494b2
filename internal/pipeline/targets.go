// Package pipeline composes the stages of a delivery run — build, scan, push,
// write-back — for `automator run`, `automator build` and `automator promote
// --results`. It owns no stage logic: each stage is a small interface declared
// here and satisfied by internal/build, internal/scan, internal/registry and
// internal/gitops, wired together in cmd.
package pipeline

import (
	"fmt"
	"path"
	"strings"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
)

// TargetError names an environment that was asked for but does not exist.
type TargetError struct{ Name, Have string }

func (e *TargetError) Error() string {
	return fmt.Sprintf("unknown environment %q (have: %s)", e.Name, e.Have)
}

// ExitCode is 2: a usage error.
func (e *TargetError) ExitCode() int { return 2 }

// Targets returns the environments a run writes to: the named ones when
// names is not empty, else those whose triggers match the event, in config
// order. Outside Actions (no event) and with no names, nothing is targeted.
func Targets(cfg *config.Config, ev *event.Event, names []string) ([]config.Environment, error) {
	if len(names) > 0 {
		var out []config.Environment
		for _, n := range names {
			env, ok := cfg.Environment(n)
			if !ok {
				have := make([]string, len(cfg.Environments))
				for i, e := range cfg.Environments {
					have[i] = e.Name
				}
				return nil, &TargetError{Name: n, Have: strings.Join(have, ", ")}
			}
			out = append(out, *env)
		}
		return out, nil
	}
	var out []config.Environment
	if ev == nil {
		return nil, nil
	}
	for _, env := range cfg.Environments {
		for _, t := range env.Triggers {
			if Matches(t, ev) {
				out = append(out, env)
				break
			}
		}
	}
	return out, nil
}

// Matches reports whether trigger t fires for ev. Branch and tag lists are
// path.Match globs; an empty list matches any branch or tag.
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
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}
