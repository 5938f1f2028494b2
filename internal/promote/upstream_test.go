package promote

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// upstreamWriter is a gitops.Writer whose environments pin runs (by
// environment name) and that records what Apply is asked to land.
type upstreamWriter struct {
	gitops.History // not read: no holds or soak here
	runs           map[string][]gitops.Image
	applied        []gitops.Request
}

func (w *upstreamWriter) Apply(_ context.Context, req gitops.Request) (*gitops.Result, error) {
	w.applied = append(w.applied, req)
	return &gitops.Result{Updates: req.Updates}, nil
}

func (w *upstreamWriter) Current(_ context.Context, env config.Environment, _ string, _ map[string]string) ([]gitops.Image, error) {
	return w.runs[env.Name], nil
}

func (w *upstreamWriter) Previous(context.Context, config.Environment) (string, error) {
	return "", errors.New("not used")
}

// A release published under its tag lands in an environment with
// promoteFrom only where the upstream runs the very same digest, under the
// release's tag; with nothing published, everything the upstream runs.
func TestPromoteUpstream(t *testing.T) {
	staging := &Target{Env: config.Environment{Name: "staging"}}
	prod := &Target{Env: config.Environment{Name: "prod"}, From: staging}
	runs := []gitops.Image{
		{Service: "cart", Repository: "r/cart", Tag: "2.1.1-rc1", Digest: digest("a")},
		{Service: "checkout", Repository: "r/checkout", Tag: "2.1.1-rc1", Digest: digest("b")},
		{Service: "search", Repository: "r/search", Tag: "0.9.0", Digest: digest("c")},
	}
	release := []gitops.Update{
		{Service: "cart", Repository: "r/cart", Tag: "2.1.1", Digest: digest("a")},
		{Service: "checkout", Repository: "r/checkout", Tag: "2.1.1", Digest: digest("d")}, // not what staging runs
	}
	for _, tc := range []struct {
		name      string
		published []gitops.Update
		want      []gitops.Update
		terminal  bool
	}{
		{"only the release's digests staging runs, under the release tag", release,
			[]gitops.Update{{Service: "cart", Repository: "r/cart", Tag: "2.1.1", Digest: digest("a"), PromotedFrom: "staging"}}, false},
		{"nothing published: everything staging runs", nil, []gitops.Update{
			{Service: "cart", Repository: "r/cart", Tag: "2.1.1-rc1", Digest: digest("a"), PromotedFrom: "staging"},
			{Service: "checkout", Repository: "r/checkout", Tag: "2.1.1-rc1", Digest: digest("b"), PromotedFrom: "staging"},
			{Service: "search", Repository: "r/search", Tag: "0.9.0", Digest: digest("c"), PromotedFrom: "staging"},
		}, false},
		{"staging runs none of the release", release[1:], nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &upstreamWriter{runs: map[string][]gitops.Image{"staging": runs}}
			p := &Promoter{Writer: w}
			_, err := p.PromoteUpstream(context.Background(), prod, tc.published)
			if tc.terminal {
				if !IsTerminal(err) || len(w.applied) != 0 {
					t.Fatalf("err = %v (applied %d), want a terminal error and nothing written", err, len(w.applied))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(w.applied) != 1 || !reflect.DeepEqual(w.applied[0].Updates, tc.want) {
				t.Errorf("applied %+v\nwant %+v", w.applied, tc.want)
			}
		})
	}
}
