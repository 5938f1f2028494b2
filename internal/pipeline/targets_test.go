package pipeline

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/promote"
)

func envNames(envs []*promote.Target) []string {
	out := []string{}
	for _, e := range envs {
		out = append(out, e.Name())
	}
	return out
}

func resolve(t *testing.T, cfg *config.Config) promote.Targets {
	t.Helper()
	all, err := promote.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func TestTargetsFromEvent(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	tests := []struct {
		name string
		ev   *event.Event
		want []string
	}{
		{"push to main", &event.Event{Kind: event.Push, Ref: "refs/heads/main"}, []string{"dev"}},
		{"push to a feature branch glob", &event.Event{Kind: event.Push, Ref: "refs/heads/feature/login"}, []string{"dev"}},
		{"glob does not cross a slash", &event.Event{Kind: event.Push, Ref: "refs/heads/feature/a/b"}, []string{}},
		{"push to another branch", &event.Event{Kind: event.Push, Ref: "refs/heads/develop"}, []string{}},
		{"push of a tag ref is not a branch push", &event.Event{Kind: event.Push, Ref: "refs/tags/main"}, []string{}},
		{"release tag", &event.Event{Kind: event.TagPush, Ref: "refs/tags/v1.2.3", Tag: "v1.2.3"}, []string{"prod"}},
		{"release candidate tag", &event.Event{Kind: event.TagPush, Ref: "refs/tags/v1.2.3-rc1", Tag: "v1.2.3-rc1"}, []string{"prod", "rc"}},
		{"tag outside every glob", &event.Event{Kind: event.TagPush, Ref: "refs/tags/nightly", Tag: "nightly"}, []string{}},
		{"pull request into main", &event.Event{Kind: event.PullRequest, PR: &event.PRInfo{Number: 7, BaseRef: "main", HeadRef: "fix"}}, []string{"staging"}},
		{"pull request into another base", &event.Event{Kind: event.PullRequest, PR: &event.PRInfo{Number: 8, BaseRef: "develop", HeadRef: "main"}}, []string{}},
		{"pull request without PR info", &event.Event{Kind: event.PullRequest}, []string{}},
		{"merge group", &event.Event{Kind: event.MergeGroup, Group: &event.GroupInfo{BaseRef: "refs/heads/main"}}, []string{"staging"}},
		{"dispatch on a release branch", &event.Event{Kind: event.Dispatch, Ref: "refs/heads/release/2.0"}, []string{"preview"}},
		{"dispatch on main", &event.Event{Kind: event.Dispatch, Ref: "refs/heads/main"}, []string{}},
		{"other event", &event.Event{Kind: event.Other, Name: "schedule", Ref: "refs/heads/main"}, []string{}},
		{"no event", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Targets(resolve(t, cfg), tt.ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if names := envNames(got); !slices.Equal(names, tt.want) {
				t.Errorf("Targets = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestTargetsByName(t *testing.T) {
	cfg := parseConfig(t, testConfig)
	push := &event.Event{Kind: event.Push, Ref: "refs/heads/main"}

	got, err := Targets(resolve(t, cfg), push, []string{"prod", "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if names := envNames(got); !slices.Equal(names, []string{"prod", "dev"}) {
		t.Errorf("explicit names = %v, want [prod dev] (given order, event ignored)", names)
	}
	if got[0].Env.PromoteFrom != "staging" || got[0].From.Name() != "staging" || got[0].Env.Files[0] != "prod/values.yaml" {
		t.Errorf("prod = %+v, want the configured environment", got[0])
	}

	got, err = Targets(resolve(t, cfg), nil, []string{"preview"})
	if err != nil || !slices.Equal(envNames(got), []string{"preview"}) {
		t.Errorf("explicit name without an event = %v, %v", envNames(got), err)
	}

	got, err = Targets(resolve(t, cfg), push, []string{"dev", "qa"})
	var te *promote.TargetError
	if !errors.As(err, &te) {
		t.Fatalf("unknown name: err = %v, want *TargetError", err)
	}
	if got != nil {
		t.Errorf("unknown name returned targets %v", envNames(got))
	}
	// *promote.TargetError is a usage error: the CLI exits 2 (cmd/automator's TestExitCodeMapping).
	if te.Name != "qa" {
		t.Errorf("TargetError = %+v, want qa", te)
	}
	if msg := err.Error(); !strings.Contains(msg, `"qa"`) || !strings.Contains(msg, "dev, staging, prod, rc, preview") {
		t.Errorf("error %q should name the unknown environment and the known ones", msg)
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name string
		t    config.Trigger
		ev   event.Event
		want bool
	}{
		{"push with no branch list matches any branch", config.Trigger{Event: "push"}, event.Event{Kind: event.Push, Ref: "refs/heads/x"}, true},
		{"push trigger ignores tag pushes", config.Trigger{Event: "push"}, event.Event{Kind: event.TagPush, Ref: "refs/tags/v1", Tag: "v1"}, false},
		{"tag with no tag list matches any tag", config.Trigger{Event: "tag"}, event.Event{Kind: event.TagPush, Tag: "anything"}, true},
		{"rc glob rejects a release", config.Trigger{Event: "tag", Tags: []string{"v*-rc*"}}, event.Event{Kind: event.TagPush, Tag: "v1.2.3"}, false},
		{"rc glob accepts a candidate", config.Trigger{Event: "tag", Tags: []string{"v*-rc*"}}, event.Event{Kind: event.TagPush, Tag: "v1.2.3-rc.2"}, true},
		{"release glob without candidates accepts a release", config.Trigger{Event: "tag", Tags: []string{"v*", "!v*-rc*"}}, event.Event{Kind: event.TagPush, Tag: "v2.1.1"}, true},
		{"release glob without candidates rejects a candidate", config.Trigger{Event: "tag", Tags: []string{"v*", "!v*-rc*"}}, event.Event{Kind: event.TagPush, Tag: "v2.1.1-rc1"}, false},
		{"the last matching glob decides", config.Trigger{Event: "push", Branches: []string{"release/*", "!release/old-*", "release/old-keep"}}, event.Event{Kind: event.Push, Ref: "refs/heads/release/old-keep"}, true},
		{"an exclusion alone matches nothing", config.Trigger{Event: "tag", Tags: []string{"!v*-rc*"}}, event.Event{Kind: event.TagPush, Tag: "v2.1.1"}, false},
		{"second glob of a list", config.Trigger{Event: "push", Branches: []string{"main", "hotfix-*"}}, event.Event{Kind: event.Push, Ref: "refs/heads/hotfix-12"}, true},
		{"pull_request matches the base, not the head", config.Trigger{Event: "pull_request", Branches: []string{"main"}}, event.Event{Kind: event.PullRequest, Ref: "refs/heads/main", PR: &event.PRInfo{BaseRef: "dev", HeadRef: "main"}}, false},
		{"merge_group ignores branch lists", config.Trigger{Event: "merge_group", Branches: []string{"main"}}, event.Event{Kind: event.MergeGroup}, true},
		{"workflow_dispatch with no branch list", config.Trigger{Event: "workflow_dispatch"}, event.Event{Kind: event.Dispatch, Ref: "refs/heads/any"}, true},
		{"unknown trigger event", config.Trigger{Event: "schedule"}, event.Event{Kind: event.Other, Name: "schedule"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(tt.t, &tt.ev); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}
