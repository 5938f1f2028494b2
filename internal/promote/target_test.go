package promote

import (
	"errors"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
)

// TestResolve: each target carries its environment's own gate, or
// scan.policy, compiled (moved from gate.PoliciesFor, which looked
// environments up by name on every check).
func TestResolve(t *testing.T) {
	cfg, err := config.Parse("automator.yaml", []byte(`version: 1
scan:
  policy:
    failOn: [CRITICAL]
    mode: warn
environments:
  - name: dev
    repo: acme/manifests
    files: [dev.yaml]
  - name: prod
    repo: acme/manifests
    files: [prod.yaml]
    gate:
      failOn: [CRITICAL, HIGH]
      ignoreUnfixed: true
      maxCount: {MEDIUM: 3}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := all.Lookup("prod", "dev")
	if err != nil {
		t.Fatal(err)
	}
	got := []gate.EnvPolicy{ts[0].EnvPolicy(), ts[1].EnvPolicy()}
	if got[0].Env != "prod" || got[0].Policy.String() != "failOn CRITICAL,HIGH · max MEDIUM 3 · ignoreUnfixed · mode block" {
		t.Errorf("prod = %+v (%s)", got[0], got[0].Policy)
	}
	if got[1].Env != "dev" || got[1].Policy.String() != "failOn CRITICAL · mode warn" {
		t.Errorf("dev = %+v (%s)", got[1], got[1].Policy)
	}
	if _, err := all.Lookup("qa"); err == nil || !strings.Contains(err.Error(), `"qa"`) {
		t.Errorf("unknown env error = %v", err)
	}
	ps, err := all.Policies("prod", "dev")
	if err != nil || len(ps) != 2 || ps[0].Env != got[0].Env || ps[0].Policy.String() != got[0].Policy.String() ||
		ps[1].Env != got[1].Env || ps[1].Policy.String() != got[1].Policy.String() {
		t.Errorf("Policies(prod, dev) = %+v, %v; want %+v", ps, err, got)
	}
	var te *TargetError
	if _, err := all.Policies("dev", "qa"); !errors.As(err, &te) || te.Name != "qa" {
		t.Errorf("Policies with an unknown env = %v, want a *TargetError naming qa", err)
	}
	if len(all) != 2 || all[0].Name() != "dev" {
		t.Errorf("all = %+v", all)
	}
}
