package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
)

// TestStatusLocalGit reads a git remote (no GitHub): dev's pin by a run, the
// prod proposal pushed as a branch, and prod's drift from dev.
func TestStatusLocalGit(t *testing.T) {
	harness.RequireBinary(t, "git")
	b := newBareManifests(t)
	cfg := fmt.Sprintf(`version: 1
services:
  - {name: cart, context: src/cart, image: ghcr.io/acme/cart}
scan: {enabled: false}
environments:
  - {name: dev, repo: %[1]q, files: ["envs/dev/values.yaml"], mode: commit}
  - {name: prod, repo: %[1]q, files: ["envs/prod/kustomization.yaml"], mode: pull-request, promoteFrom: dev}
`, "file://"+b.dir)
	dir := seed(t, map[string]string{"automator.yaml": cfg, "src/cart/Dockerfile": "FROM scratch\n"})
	cw := &cliWorld{dir: dir, env: map[string]string{"GIT_AUTHOR_NAME": "Release Bot", "GIT_AUTHOR_EMAIL": "release@example.com"}}
	cw.mustRun(t, "promote", "--env", "dev", "--set", "cart=1.1.0@"+dg('a'))
	cw.mustRun(t, "promote", "--env", "dev", "--set", "cart=1.2.0@"+dg('b'))
	cw.mustRun(t, "promote", "--env", "prod")
	cw.mustRun(t, "promote", "--env", "dev", "--set", "cart=1.3.0@"+dg('c'))

	var m struct {
		Rows []struct {
			Env, Digest, How, Upstream string
			Drift                      bool
			Behind                     int
			PR                         *struct{ Branch string }
		}
	}
	if err := json.Unmarshal([]byte(cw.mustRun(t, "status", "--format", "json")), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 2 {
		t.Fatalf("rows = %+v", m.Rows)
	}
	dev, prod := m.Rows[0], m.Rows[1]
	if dev.Env != "dev" || dev.Digest != dg('c') || dev.How != "run" {
		t.Errorf("dev = %+v", dev)
	}
	// prod's proposal (1.2.0) is not merged: prod still runs the seed, and dev
	// has pinned three digests since.
	if prod.Env != "prod" || !prod.Drift || prod.Upstream != "dev" || prod.Behind != 3 || prod.PR == nil || prod.PR.Branch != "automator/prod" {
		t.Errorf("prod = %+v (PR %+v)", prod, prod.PR)
	}
}
