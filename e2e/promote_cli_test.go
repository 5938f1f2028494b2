package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/gitops"
)

// cliWorld is the GitHub fake's acme/manifests plus a bare repository on
// disk, and an app directory whose automator.yaml names environments in both
// (the writer is chosen per environment).
type cliWorld struct {
	*world
	bare *bareManifests
	dir  string
	env  map[string]string
}

func newCLIWorld(t *testing.T) *cliWorld {
	t.Helper()
	harness.RequireBinary(t, "git")
	cw := &cliWorld{world: newWorld(t), bare: newBareManifests(t), dir: t.TempDir()}
	key := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(key, cw.app.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"src/cart/Dockerfile":     "FROM scratch\n",
		"src/checkout/Dockerfile": "FROM scratch\n",
		"automator.yaml": fmt.Sprintf(`version: 1
services:
  - {name: cart, context: src/cart, image: ghcr.io/acme/cart}
  - {name: checkout, context: src/checkout, image: ghcr.io/acme/checkout}
scan:
  enabled: false # the images of this test exist only as digests in manifests
github:
  app: {id: %d, privateKeyFile: %s}
environments:
  - {name: dev, repo: acme/manifests, files: ["envs/dev/*.yaml"], mode: commit}
  - name: staging
    repo: acme/manifests
    files: [envs/staging/values.yaml]
    mode: pull-request
    pullRequest: {labels: [promotion]}
  - {name: prod, repo: acme/manifests, files: [envs/prod/kustomization.yaml], mode: pull-request, promoteFrom: staging}
  - {name: edge, repo: %s, files: [envs/prod/kustomization.yaml], mode: pull-request, promoteFrom: staging}
`, cw.app.ID, key, cw.bare.dir),
	}
	for p, c := range files {
		full := filepath.Join(cw.dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cw.env = map[string]string{"GITHUB_API_URL": cw.g.APIURL, "GITHUB_SERVER_URL": cw.g.URL, "AUTOMATOR_LOG_FORMAT": "json"}
	return cw
}

// cliBinary is harness.AutomatorBinary.
func cliBinary(t *testing.T) string { return harness.AutomatorBinary(t) }

// automator runs the built binary in the app directory and returns stdout,
// stderr and the exit code.
func (cw *cliWorld) automator(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	stdout, stderr, code, _ = runAutomator(t, cliBinary(t), cw.dir, cw.env, args...)
	return stdout, stderr, code
}

func (cw *cliWorld) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := cw.automator(t, args...)
	if code != 0 {
		t.Fatalf("automator %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	return out
}

// repoWrites are the fake's write requests other than minting App
// installation tokens (every process mints its own).
func (cw *cliWorld) repoWrites() []harness.APIRequest {
	var out []harness.APIRequest
	for _, r := range cw.g.Writes() {
		if !strings.HasSuffix(r.Path, "/access_tokens") {
			out = append(out, r)
		}
	}
	return out
}

func wantAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(got, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, got)
		}
	}
}

func TestPromoteRollbackCLI(t *testing.T) {
	cw := newCLIWorld(t)
	ctx := context.Background()
	wr := cw.writer(t)
	// staging runs cart 1.1.0 and checkout 2.0.0 (landed directly here), dev
	// got one promotion after the seed commit.
	stagingRuns := stagingEnv
	stagingRuns.Mode = "commit"
	if _, err := wr.Apply(ctx, gitops.Request{Env: stagingRuns, Updates: []gitops.Update{upd("cart", "1.1.0", 'a'), upd("checkout", "2.0.0", 'b')}}); err != nil {
		t.Fatal(err)
	}
	if _, err := wr.Apply(ctx, gitops.Request{Env: devEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
		t.Fatal(err)
	}
	main, _ := cw.g.RevParse(manifests, "main")
	prodWant := strings.NewReplacer(
		"newTag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000001", "newTag: 1.1.0\n    digest: "+dg('a'),
		"newTag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002", "newTag: 2.0.0\n    digest: "+dg('b'),
	).Replace(prodKustomization)

	t.Run("promote prod dry run", func(t *testing.T) {
		cw.g.ResetRequests()
		out := cw.mustRun(t, "promote", "--env", "prod", "--dry-run")
		wantAll(t, "dry-run output", out,
			"+++ b/envs/prod/kustomization.yaml", "-    newTag: 1.0.0", "+    newTag: 1.1.0", "+    digest: "+dg('a'), "+    digest: "+dg('b'),
			`prod: would open pull request "Promote cart, checkout to prod" (automator/prod → main)`,
			"--- pull request: Promote cart, checkout to prod ---", "| **cart** | `1.0.0` → `1.1.0` |", "from staging", "<!-- automator:pending")
		if w := cw.repoWrites(); len(w) != 0 {
			t.Errorf("dry run made %d writes: %+v", len(w), w)
		}
		if _, ok := cw.g.RevParse(manifests, "automator/prod"); ok || len(cw.g.PullRequests(manifests)) != 0 {
			t.Error("dry run created the branch or a pull request")
		}
	})

	t.Run("promote prod", func(t *testing.T) {
		out := cw.mustRun(t, "promote", "--env", "prod")
		prs := cw.g.PullRequests(manifests)
		if len(prs) != 1 || prs[0].Head != "automator/prod" || prs[0].Base != "main" || prs[0].Title != "Promote cart, checkout to prod" {
			t.Fatalf("pull requests: %+v", prs)
		}
		wantAll(t, "output", out, `prod: open pull request "Promote cart, checkout to prod"`, fmt.Sprintf("/pull/%d", prs[0].Number))
		if got := cw.file(t, "automator/prod", "envs/prod/kustomization.yaml"); got != prodWant {
			t.Errorf("automator/prod:\n%s\nwant:\n%s", got, prodWant)
		}
		if now, _ := cw.g.RevParse(manifests, "main"); now != main {
			t.Error("pull-request mode moved main")
		}
		// Re-run with nothing new: no write at all.
		cw.g.ResetRequests()
		out = cw.mustRun(t, "promote", "--env", "prod")
		wantAll(t, "re-run output", out, "is up to date")
		if w := cw.repoWrites(); len(w) != 0 {
			t.Errorf("re-run made %d writes: %+v", len(w), w)
		}
	})

	t.Run("promote staging --set", func(t *testing.T) {
		cw.mustRun(t, "promote", "--env", "staging",
			"--set", "cart=ghcr.io/acme/cart:1.5.0@"+dg('e'), // full reference
			"--set", "checkout=2.1.0@"+dg('f')) // the configured image
		stagingValues := strings.ReplaceAll(devValues, "# dev:", "# staging:")
		want := strings.NewReplacer(
			`tag: "1.0.0" # pinned`, `tag: "1.5.0" # pinned`,
			"digest: sha256:0000000000000000000000000000000000000000000000000000000000000001", "digest: "+dg('e'),
			"tag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002", "tag: 2.1.0\n    digest: "+dg('f'),
		).Replace(stagingValues)
		// main holds staging at cart 1.1.0/checkout 2.0.0; the branch is
		// regenerated from main.
		base := cw.file(t, "main", "envs/staging/values.yaml")
		if base == stagingValues {
			t.Fatal("staging was not seeded")
		}
		if got := cw.file(t, "automator/staging", "envs/staging/values.yaml"); got != want {
			t.Errorf("automator/staging:\n%s\nwant:\n%s", got, want)
		}
		pr := cw.g.PullByHead(manifests, "automator/staging", "")
		if pr == nil || strings.Join(pr.Labels, ",") != "promotion" {
			t.Fatalf("staging pull request: %+v", pr)
		}
	})

	t.Run("rollback dev dry run", func(t *testing.T) {
		cw.g.ResetRequests()
		out := cw.mustRun(t, "rollback", "--env", "dev", "--to", cw.initial, "--dry-run")
		wantAll(t, "dry-run output", out, "-    digest: "+dg('a'), "+    digest: sha256:0000000000000000000000000000000000000000000000000000000000000001",
			"dev: would open pull request \"Roll back dev to "+cw.initial[:12]+"\" (automator/rollback-dev → main)", "Restores the image values `dev` had at commit `"+cw.initial+"`")
		if w := cw.repoWrites(); len(w) != 0 {
			t.Errorf("dry run made %d writes: %+v", len(w), w)
		}
	})

	t.Run("rollback dev", func(t *testing.T) {
		cw.mustRun(t, "rollback", "--env", "dev", "--to", cw.initial)
		for _, f := range []string{"envs/dev/values.yaml", "envs/dev/worker-values.yaml"} {
			want := cw.file(t, cw.initial, f)
			if got := cw.file(t, "automator/rollback-dev", f); got != want {
				t.Errorf("automator/rollback-dev %s:\n%s\nwant:\n%s", f, got, want)
			}
		}
		found := false
		for _, p := range cw.g.PullRequests(manifests) {
			found = found || (p.Head == "automator/rollback-dev" && p.Title == "Roll back dev to "+cw.initial[:12])
		}
		if !found {
			t.Errorf("no rollback pull request: %+v", cw.g.PullRequests(manifests))
		}
	})

	// edge lives in a plain git repository: the local writer pushes
	// automator/edge and prints the pull request text, while reading staging
	// through GitHub.
	t.Run("promote edge through the local git writer", func(t *testing.T) {
		refs := func() string { out, _ := cw.bare.git("for-each-ref"); return out }
		before := refs()
		out := cw.mustRun(t, "promote", "--env", "edge", "--dry-run")
		wantAll(t, "dry-run output", out, "+    digest: "+dg('a'), "--- pull request: Promote cart, checkout to edge ---")
		if refs() != before {
			t.Error("dry run pushed to the local repository")
		}
		out = cw.mustRun(t, "promote", "--env", "edge")
		wantAll(t, "output", out, `edge: open pull request "Promote cart, checkout to edge" (automator/edge → main)`,
			"--- pull request: Promote cart, checkout to edge ---", "| **checkout** | `1.0.0` → `2.0.0` |")
		if got := cw.bare.file("automator/edge", "envs/prod/kustomization.yaml"); got != prodWant {
			t.Errorf("automator/edge:\n%s\nwant:\n%s", got, prodWant)
		}
		if cw.bare.rev("main") != cw.bare.initial {
			t.Error("pull-request mode moved main of the local repository")
		}
	})
}

// TestPromoteCLILocalOnly runs with only git environments: no GitHub
// credentials are needed.
func TestPromoteCLILocalOnly(t *testing.T) {
	harness.RequireBinary(t, "git")
	b := newBareManifests(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 1
services:
  - {name: cart, context: src/cart, image: ghcr.io/acme/cart}
scan: {enabled: false}
environments:
  - {name: dev, repo: %q, files: ["envs/dev/*.yaml"], mode: commit}
`, "file://"+b.dir)
	for p, c := range map[string]string{"automator.yaml": cfg, "src/cart/Dockerfile": "FROM scratch\n"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cw := &cliWorld{dir: dir, env: map[string]string{"GIT_AUTHOR_NAME": "Release Bot", "GIT_AUTHOR_EMAIL": "release@example.com"}}
	out := cw.mustRun(t, "promote", "--env", "dev", "--set", "cart=1.1.0@"+dg('a'))
	wantAll(t, "output", out, "dev: commit to file://"+b.dir+"@main")
	if got, want := b.file("main", "envs/dev/values.yaml"), devExpected(devValues, "1.1.0", 'a'); got != want {
		t.Errorf("values.yaml:\n%s\nwant:\n%s", got, want)
	}
	if author, _ := b.git("log", "-1", "--format=%an <%ae>", "main"); author != "Release Bot <release@example.com>" {
		t.Errorf("author %q", author)
	}
}
