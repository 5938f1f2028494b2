package event

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name, event, payload, ref string
		check                     func(t *testing.T, ev *Event)
		wantErr                   bool
	}{
		{name: "push", event: "push", ref: "refs/heads/main",
			payload: `{"ref":"refs/heads/main","before":"aaa","after":"bbb","forced":true,"repository":{"full_name":"acme/app","default_branch":"main"}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != Push || ev.PushInfo.Before != "aaa" || ev.PushInfo.After != "bbb" || !ev.PushInfo.Forced || ev.DefaultBranch != "main" || ev.Repository != "acme/app" {
					t.Errorf("event = %+v %+v", ev, ev.PushInfo)
				}
			}},
		{name: "new branch", event: "push",
			payload: `{"ref":"refs/heads/f","before":"0000000000000000000000000000000000000000","after":"bbb"}`,
			check: func(t *testing.T, ev *Event) {
				if !ev.PushInfo.Created || ev.PushInfo.Deleted {
					t.Errorf("push = %+v", ev.PushInfo)
				}
			}},
		{name: "tag", event: "push", payload: `{"ref":"refs/tags/cart/v1.2.3","before":"0000000000000000000000000000000000000000","after":"bbb","created":true}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != TagPush || ev.Tag != "cart/v1.2.3" {
					t.Errorf("event = %+v", ev)
				}
			}},
		{name: "pull_request_target", event: "pull_request_target",
			payload: `{"pull_request":{"number":7,"base":{"ref":"main","sha":"b"},"head":{"ref":"f","sha":"h"}}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != PullRequest || !ev.PR.Target || ev.PR.BaseSHA != "b" || ev.PR.HeadSHA != "h" || ev.PR.Number != 7 {
					t.Errorf("pr = %+v", ev.PR)
				}
			}},
		{name: "merge_group", event: "merge_group", payload: `{"merge_group":{"base_sha":"b","head_sha":"h","base_ref":"refs/heads/main"}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != MergeGroup || ev.Group.BaseSHA != "b" || ev.Group.HeadSHA != "h" {
					t.Errorf("group = %+v", ev.Group)
				}
			}},
		{name: "dispatch inputs", event: "workflow_dispatch", payload: `{"inputs":{"services":"a,b","dry":true}}`,
			check: func(t *testing.T, ev *Event) {
				if ev.Kind != Dispatch || ev.Inputs["services"] != "a,b" || ev.Inputs["dry"] != "true" {
					t.Errorf("inputs = %+v", ev.Inputs)
				}
			}},
		{name: "issue_comment on a pull request", event: "issue_comment",
			payload: `{"action":"created","issue":{"number":9,"pull_request":{"url":"u"}},"comment":{"id":42,"body":"/automator status","user":{"login":"mona","type":"User"}}}`,
			check: func(t *testing.T, ev *Event) {
				c := ev.Comment
				if ev.Kind != Comment || c.ID != 42 || c.Issue != 9 || !c.OnPR || c.Bot || c.Author != "mona" || c.Body != "/automator status" || c.Action != "created" {
					t.Errorf("comment = %+v", c)
				}
			}},
		{name: "issue_comment by a bot on an issue", event: "issue_comment",
			payload: `{"action":"edited","issue":{"number":3},"comment":{"id":7,"body":"x","user":{"login":"automator[bot]","type":"Bot"}}}`,
			check: func(t *testing.T, ev *Event) {
				if c := ev.Comment; !c.Bot || c.OnPR || c.Action != "edited" {
					t.Errorf("comment = %+v", c)
				}
			}},
		{name: "issue_comment without comment", event: "issue_comment", payload: `{"issue":{"number":3}}`, wantErr: true},
		{name: "other", event: "schedule", payload: `{}`, check: func(t *testing.T, ev *Event) {
			if ev.Kind != Other {
				t.Errorf("kind = %s", ev.Kind)
			}
		}},
		{name: "pull request without shas", event: "pull_request", payload: `{"pull_request":{}}`, wantErr: true},
		{name: "bad JSON", event: "push", payload: `{`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "event.json")
			if err := os.WriteFile(p, []byte(tt.payload), 0o644); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"GITHUB_EVENT_NAME": tt.event, "GITHUB_EVENT_PATH": p, "GITHUB_REF": tt.ref}
			ev, err := FromEnv(func(k string) string { return env[k] })
			if tt.wantErr {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error = %v, want *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, ev)
		})
	}
}

func TestFromEnvOutsideActions(t *testing.T) {
	ev, err := FromEnv(func(string) string { return "" })
	if err != nil || ev.Kind != None {
		t.Fatalf("event = %+v, %v", ev, err)
	}
}

func TestOwnerRepo(t *testing.T) {
	env := map[string]string{"GITHUB_REPOSITORY": "acme/from-env"}
	tests := []struct {
		name string
		ev   *Event
		env  map[string]string
		want string
	}{
		{name: "no event", ev: nil, env: env, want: "acme/from-env"},
		{name: "event without repository", ev: &Event{}, env: env, want: "acme/from-env"},
		{name: "payload wins", ev: &Event{Repository: "acme/from-payload"}, env: env, want: "acme/from-payload"},
		{name: "neither", ev: &Event{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ev.OwnerRepo(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("OwnerRepo() = %q, want %q", got, tt.want)
			}
		})
	}
}
