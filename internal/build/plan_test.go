package build

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
)

func TestPlanService(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	td, err := NewTagData(testSHA, "refs/tags/v2.1.1-rc1", now)
	if err != nil {
		t.Fatal(err)
	}
	prov := Provenance{Tag: td, Source: "https://github.com/acme/shop", Created: now}
	svc := config.Service{
		Name: "cart", Context: ".", Dockerfile: "src/cart/Dockerfile", Image: "ghcr.io/acme/cart", Mirrors: []string{"r.example/acme/cart"},
		Args: map[string]string{"A": "1"}, Target: "final", Platforms: []string{"linux/arm64"},
		Secrets: []config.BuildSecret{{ID: "npm", Env: "NPM_TOKEN"}, {ID: "netrc", File: "ci/netrc"}},
	}
	settings := config.Build{Platforms: []string{"linux/amd64"}, CacheFrom: []string{"type=gha"}, Labels: map[string]string{"team": "shop"}}
	got, err := PlanService(svc, settings, "/repo", "/out", prov)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{
		Service: "cart", Image: "ghcr.io/acme/cart", Repositories: []string{"ghcr.io/acme/cart", "r.example/acme/cart"},
		Tags: []string{"sha-0123456789ab", "2.1.1-rc1"}, CommitTags: []string{"sha-0123456789ab"},
		Request: Request{
			Service: "cart", Context: "/repo", Dockerfile: "/repo/src/cart/Dockerfile", Output: "/out/cart",
			Args: map[string]string{"A": "1"}, Target: "final", Platforms: []string{"linux/arm64"},
			Secrets:   []Secret{{ID: "npm", Env: "NPM_TOKEN"}, {ID: "netrc", File: "/repo/ci/netrc"}},
			CacheFrom: []string{"type=gha"},
			Labels: map[string]string{"team": "shop", LabelSource: "https://github.com/acme/shop", LabelRevision: testSHA,
				LabelCreated: "2026-05-06T07:08:09Z", LabelTitle: "cart"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan =\n%+v\nwant\n%+v", got, want)
	}

	// Branch build: the same labels (nothing per event is baked in), Dockerfile defaults into the context.
	td.Tag, td.Version = "", ""
	got, err = PlanService(config.Service{Name: "web", Context: "src/web", Image: "r/web"}, config.Build{}, "/repo", "/out", Provenance{Tag: td})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Request.Labels[LabelVersion]; ok || got.Request.Dockerfile != "/repo/src/web/Dockerfile" {
		t.Errorf("branch plan = %+v", got.Request)
	}

	_, err = PlanService(config.Service{Name: "bad", Context: ".", Image: "r/bad"}, config.Build{Tags: []string{"a b"}}, "/repo", "/out", Provenance{Tag: td})
	if err == nil || !strings.Contains(err.Error(), `service "bad"`) {
		t.Errorf("invalid tag error = %v, want it to name the service", err)
	}
}
