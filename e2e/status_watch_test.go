package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// TestWatcherServesStatus: the watcher's ops port serves the status page,
// and /metrics exports the deployed image of each environment and service
// once the page has been read.
func TestWatcherServesStatus(t *testing.T) {
	bin := automatorBinary(t)
	reg := harness.StartRegistry(t, harness.WithBasicAuth(regUser, regPassword))
	gh := harness.StartGitHub(t)
	ww := &watchWorld{reg: reg}
	ww.push(t, "acme/cart", "1.0.0")
	cart11 := ww.push(t, "acme/cart", "1.1.0")
	manifests := harness.NewGitRepo(t, t.TempDir())
	manifests.WriteFile("envs/prod/cart.yaml", valuesFile("cart", reg.Ref("acme/cart"), "1.0.0"))
	manifests.Commit("seed")
	manifests.PushTo(gh, manifestRepo)
	app := harness.NewGitRepo(t, t.TempDir())
	app.WriteFile("automator.yaml", fmt.Sprintf(`version: 1
registries:
  - {host: %q, insecure: true, usernameEnv: REG_USER, passwordEnv: REG_PASS}
scan: {enabled: false}
environments:
  - {name: prod, repo: acme/manifests, files: ["envs/prod/*.yaml"], mode: commit}
watch:
  interval: 1s
  webhookSecretEnv: HOOK_SECRET
  rules:
    - {name: cart, image: %q, policy: {semver: ">=1.0.0"}, environments: [prod]}
`, reg.Host, reg.Ref("acme/cart")))
	app.Commit("watcher config")
	env := gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"], env["HOOK_SECRET"] = regUser, regPassword, hookSecret
	p := startWatcher(t, bin, app.Dir, env)

	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + p.ops + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d\n%s\n%s", path, resp.StatusCode, b, p.output(t))
		}
		return string(b)
	}
	for begin := time.Now(); ; time.Sleep(250 * time.Millisecond) {
		if s, _ := gh.ReadFile(manifestRepo, "main", "envs/prod/cart.yaml"); strings.Contains(s, cart11) {
			break
		}
		if time.Since(begin) > 45*time.Second {
			t.Fatalf("cart 1.1.0 not promoted\n%s", p.output(t))
		}
	}
	page := get("/status")
	for _, want := range []string{`<table id="status-matrix">`, `data-env="prod" data-service="cart"`, "1.1.0"} {
		if !strings.Contains(page, want) {
			t.Errorf("/status lacks %q:\n%s", want, page)
		}
	}
	metrics := get("/metrics")
	for _, want := range []string{
		fmt.Sprintf(`automator_watch_deployed_info{digest=%q,environment="prod",service="cart",tag="1.1.0"} 1`, cart11),
		`automator_watch_deployed_age_seconds{environment="prod",service="cart"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
