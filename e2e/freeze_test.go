package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// newTimedShop is a shop with the real registry and the GitHub fake whose
// manifests repository holds files(s) (called once the registry runs, so it
// may push images first; {{REG}} in the files and in the config stands for the
// registry host), and whose automator.yaml is config(s).
func newTimedShop(t *testing.T, files func(s *shop) map[string]string, config func(s *shop) string) *shop {
	t.Helper()
	s := &shop{t: t, bin: automatorBinary(t)}
	s.reg = harness.StartRegistry(t, harness.WithBasicAuth(regUser, regPassword))
	s.gh = harness.StartGitHub(t)
	seed := t.TempDir()
	for p, c := range files(s) {
		if err := os.MkdirAll(filepath.Join(seed, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(seed, p), []byte(strings.ReplaceAll(c, "{{REG}}", s.reg.Host)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.seed = s.gh.CreateRepo("acme", "manifests", "main", seed)
	s.app = harness.NewGitRepo(t, t.TempDir())
	s.app.WriteFile("automator.yaml", strings.ReplaceAll(config(s), "{{REG}}", s.reg.Host))
	s.app.Commit("config")
	return s
}

// message is the full message of rev in the fake's manifests repository.
func (s *shop) message(rev string) string {
	s.t.Helper()
	out, err := exec.Command("git", "--git-dir", s.gh.GitDir(manifestRepo), "log", "-1", "--format=%B", rev).Output()
	if err != nil {
		s.t.Fatalf("git log %s: %v", rev, err)
	}
	return string(out)
}

// timedConfig opens the configs of the timed shops: the registry, no
// scanning (the images are random), then the environments.
const timedConfig = `version: 1
registries:
  - {host: {{REG}}, insecure: true, usernameEnv: REG_USER, passwordEnv: REG_PASS}
scan: {enabled: false}
environments:
`

const timedValues = `payments:
  image:
    repository: {{REG}}/vendor/payments
    tag: "1.0.0"
ledger:
  image:
    repository: {{REG}}/vendor/ledger
    tag: "1.0.0"
`

// TestFreezeWindow runs the watcher binary inside a freeze window computed
// around the real current time (a daily window that started this minute and
// ends 30 seconds from now): the commit-mode environment gets no commit, the
// pull-request environment's PR is opened but labelled freeze with a failing
// automator/freeze status on its head; an emergency promote with
// --override-freeze commits, its reason in the trailer. After the window
// the next cycle commits the pending promotion and clears the PR's mark.
func TestFreezeWindow(t *testing.T) {
	now := time.Now().UTC()
	end := now.Add(30 * time.Second)
	start := now.Truncate(time.Minute)
	window := fmt.Sprintf(`{start: "%d %d * * *", duration: %ds, timeZone: UTC, reason: release day}`, start.Minute(), start.Hour(), int(end.Sub(start).Seconds()))
	s := newTimedShop(t, func(*shop) map[string]string {
		return map[string]string{"envs/dev/values.yaml": timedValues, "envs/prod/values.yaml": timedValues}
	}, func(*shop) string {
		return timedConfig + `  - {name: dev, repo: ` + manifestRepo + `, files: [envs/dev/values.yaml], mode: commit, freeze: [` + window + `]}
  - {name: prod, repo: ` + manifestRepo + `, files: [envs/prod/values.yaml], mode: pull-request, freeze: [` + window + `]}
watch:
  rules:
    - {name: payments, image: {{REG}}/vendor/payments, policy: {semver: ">=1.0.0"}, environments: [dev, prod]}
    - {name: ledger, image: {{REG}}/vendor/ledger, policy: {semver: ">=1.0.0"}, environments: [dev]}
`
	})
	s.pushRandom("vendor/payments", "1.0.0")
	s.pushRandom("vendor/payments", "1.1.0")
	s.pushRandom("vendor/ledger", "1.0.0")
	ledger, _ := s.pushRandom("vendor/ledger", "1.1.0")
	seed, _ := s.gh.RevParse(manifestRepo, "main")

	// Inside the window.
	r := s.cmd("watch", "--once")
	if head, _ := s.gh.RevParse(manifestRepo, "main"); head != seed {
		t.Fatalf("a commit landed on main during the freeze window:\n%s", s.message("main"))
	}
	wantAllText(t, "watch log in the window", r.stderr, "not committing: the environment is in a freeze window", "release day")
	pr := s.gh.PullByHead(manifestRepo, "automator/prod", "open")
	if pr == nil {
		t.Fatalf("no prod pull request during the window: %+v", s.gh.PullRequests(manifestRepo))
	}
	if !strings.Contains(strings.Join(pr.Labels, ","), "freeze") || !strings.Contains(pr.Body, "Freeze window") {
		t.Errorf("the prod pull request is not marked: labels %v\n%s", pr.Labels, pr.Body)
	}
	prHead, _ := s.gh.RevParse(manifestRepo, "automator/prod")
	if st, ok := s.gh.LatestStatus(manifestRepo, prHead, "automator/freeze"); !ok || st.State != "failure" {
		t.Errorf("the prod pull request head's automator/freeze status = %+v (%v), want failure", st, ok)
	}

	// An emergency override commits, and says why.
	s.cmd("promote", "--env", "dev", "--set", "ledger="+ledger, "--override-freeze", "INC-7 hotfix")
	wantAllText(t, "the override commit", s.message("main"), "Automator-Freeze-Override: INC-7 hotfix", "Automator-Service: ledger")

	// After the window: the pending promotion lands and the mark goes.
	time.Sleep(time.Until(end) + 2*time.Second)
	s.cmd("watch", "--once")
	values, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml")
	if strings.Count(values, `tag: "1.1.0@`) != 2 {
		t.Errorf("dev after the window:\n%s\nwant payments and ledger at 1.1.0", values)
	}
	for _, p := range s.gh.PullRequests(manifestRepo) {
		if p.Number == pr.Number && strings.Contains(strings.Join(p.Labels, ","), "freeze") {
			t.Errorf("the prod pull request is still labelled freeze after the window: %v", p.Labels)
		}
	}
	prHead, _ = s.gh.RevParse(manifestRepo, "automator/prod")
	if st, ok := s.gh.LatestStatus(manifestRepo, prHead, "automator/freeze"); !ok || st.State != "success" {
		t.Errorf("the prod pull request head's automator/freeze status after the window = %+v (%v), want success", st, ok)
	}
}

// TestSoakDelaysPromoteFrom: prod (promoteFrom staging, soak 8s) is not
// proposed a digest staging started running a moment ago, and says why; once
// staging has run it for 8 seconds, the next promote proposes it. status
// shows the soak while it lasts.
func TestSoakDelaysPromoteFrom(t *testing.T) {
	var d1, d2, ref2 string
	s := newTimedShop(t, func(s *shop) map[string]string {
		_, d1 = s.pushRandom("vendor/payments", "1.0.0")
		ref2, d2 = s.pushRandom("vendor/payments", "1.1.0")
		kust := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: {{REG}}/vendor/payments
    newTag: 1.0.0
    digest: ` + d1 + "\n"
		return map[string]string{"envs/staging/kustomization.yaml": kust, "envs/prod/kustomization.yaml": kust}
	}, func(*shop) string {
		return timedConfig + `  - {name: staging, repo: ` + manifestRepo + `, files: [envs/staging/kustomization.yaml], mode: commit}
  - {name: prod, repo: ` + manifestRepo + `, files: [envs/prod/kustomization.yaml], mode: commit, promoteFrom: staging, soak: 8s}
watch:
  rules:
    - {name: payments, image: {{REG}}/vendor/payments, policy: {semver: ">=1.0.0"}, environments: [staging]}
`
	})

	s.cmd("promote", "--env", "staging", "--set", "payments="+ref2)
	promoted := time.Now()
	out := s.cmd("promote", "--env", "prod")
	wantAllText(t, "promote prod while soaking", out.stdout, "payments held, not promoted: soaking: staging runs it since", "(soak 8s)")
	if v, _ := s.gh.ReadFile(manifestRepo, "main", "envs/prod/kustomization.yaml"); strings.Contains(v, d2) {
		t.Fatalf("prod was proposed %s before it soaked:\n%s", d2, v)
	}
	// status says the same: prod drifts, and the digest is still soaking.
	st := s.cmd("status", "--env", "prod")
	wantAllText(t, "status while soaking", st.stdout, "HOLD", "behind staging", "soaking until ", "(staging runs it since ", "soak 8s)")
	time.Sleep(time.Until(promoted.Add(10 * time.Second)))
	if st := s.cmd("status", "--env", "prod"); strings.Contains(st.stdout, "soaking") || strings.Contains(st.stdout, "HOLD") {
		t.Errorf("status after the soak still shows it:\n%s", st.stdout)
	}
	s.cmd("promote", "--env", "prod")
	if v, _ := s.gh.ReadFile(manifestRepo, "main", "envs/prod/kustomization.yaml"); !strings.Contains(v, d2) {
		t.Fatalf("prod does not run %s after the soak:\n%s", d2, v)
	}
}
