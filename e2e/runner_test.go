package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/deployment-automator/automator/e2e/harness"
)

// runnerUID is the uid of the runner user on GitHub-hosted runners: it owns
// the workspace and the file-command files a container action receives.
const runnerUID = 1001

// actionInputs is the INPUT_* environment the runner derives from
// action.yml for a step with the given `with:` values: every declared input
// with its default (${{ github.token }} is the workflow token), overridden
// by with. Names keep their dashes and are upper-cased, as the runner does.
func actionInputs(t *testing.T, token string, with map[string]string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	env := map[string]string{}
	for name, in := range action.Inputs {
		v := strings.ReplaceAll(in.Default, "${{ github.token }}", token)
		if w, ok := with[name]; ok {
			v = w
		}
		env["INPUT_"+strings.ToUpper(name)] = v
	}
	for name := range with {
		if _, ok := action.Inputs[name]; !ok {
			t.Fatalf("input %q is not declared in action.yml", name)
		}
	}
	return env
}

// asRunner prepares env the way a GitHub-hosted runner starts a container
// action: the workspace, HOME (/github/home) and every file-command file
// (event payload, GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STEP_SUMMARY) belong to
// the runner user, files 0644; GITHUB_TOKEN is not passed (the
// github-token input carries it); the process runs as root.
func (s *shop) asRunner(t *testing.T, ev harness.Event, with map[string]string) map[string]string {
	t.Helper()
	env := s.gh.ActionsEnv(t, shopRepo, ev, s.app.Dir)
	delete(env, "GITHUB_TOKEN")
	for k, v := range actionInputs(t, s.gh.Token, with) {
		env[k] = v
	}
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	home := filepath.Join(t.TempDir(), "github", "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	env["HOME"] = home
	env["DOCKER_CONFIG"] = filepath.Join(home, ".docker")
	owned := []string{s.app.Dir, home}
	for _, k := range []string{"GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"} {
		if err := os.Chmod(env[k], 0o644); err != nil {
			t.Fatal(err)
		}
		owned = append(owned, env[k], filepath.Dir(env[k]))
	}
	for _, p := range owned {
		chownR(t, p, runnerUID)
	}
	return env
}

func chownR(t *testing.T, path string, uid int) {
	t.Helper()
	id := strconv.Itoa(uid)
	if out, err := exec.Command("chown", "-R", id+":"+id, path).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", path, err, out)
	}
}

// TestActionAsGitHubRunsIt starts the binary as a GitHub-hosted runner
// starts the container action — as root, in a workspace and with
// file-command files owned by the runner user (uid 1001, mode 0644),
// HOME=/github/home, the GITHUB_* variables and INPUT_* for every input of
// action.yml — and runs `plan` and then `run` on a push to main: both must
// succeed (git's ownership check does not stop them, outputs and summary are
// written) and no exit status outside the documented ones may appear. Then
// `run` on a release-candidate tag and on the release tag of that commit
// re-tag its images (checkRelease).
func TestActionAsGitHubRunsIt(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; the runner emulation needs root (chown to the runner user)")
		}
		t.Skip("the runner emulation needs root (chown to the runner user)")
	}
	s := newShop(t)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	s.app.WriteFile("libs/common/common.txt", "shared library v6\n")
	change := s.app.Commit("common: v6")
	s.app.PushTo(s.gh, shopRepo)
	push := s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false)

	// plan
	env := s.asRunner(t, push, map[string]string{"command": "plan"})
	r := s.exec(env)
	if r.code != 0 {
		t.Fatalf("plan exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var services []string
	r.output(t, "services", &services)
	if strings.Join(services, ",") != "cart,checkout" {
		t.Errorf("plan services = %v, want cart,checkout", services)
	}
	if !strings.Contains(r.summary, "cart") {
		t.Errorf("plan wrote no job summary:\n%s", r.summary)
	}

	// run on the push: build, scan, push, commit to dev.
	env = s.asRunner(t, push, map[string]string{"command": "run"})
	r = s.exec(env)
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var images []imageOut
	r.output(t, "images", &images)
	if len(images) != 2 {
		t.Errorf("images = %+v, want cart and checkout", images)
	}
	for _, im := range images {
		if !im.Pushed {
			t.Errorf("%s was not pushed", im.Service)
		}
	}
	if dev, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml"); !strings.Contains(dev, "sha-"+change[:12]+"@sha256:") {
		t.Errorf("dev was not promoted:\n%s", dev)
	}
	if !strings.Contains(r.summary, "| cart |") {
		t.Errorf("run wrote no job summary:\n%s", r.summary)
	}
	// No App: the run falls back to the workflow token and says so.
	if !strings.Contains(r.stdout, "::warning::no GitHub App configured") || !strings.Contains(r.summary, "no GitHub App configured") {
		t.Errorf("the fallback to the workflow token is not announced\nstdout:\n%s\nsummary:\n%s", r.stdout, r.summary)
	}
	// buildah's own lines are inside each service's group, not streamed
	// between them.
	for _, svc := range []string{"cart", "checkout"} {
		_, rest, ok := strings.Cut(r.stdout, "::group::"+svc+"\n")
		group, _, closed := strings.Cut(rest, "::endgroup::")
		if !ok || !closed || !strings.Contains(group, "builder output") || !strings.Contains(group, "STEP 1/") {
			t.Errorf("the group of %s lacks buildah's lines:\n%s", svc, group)
		}
		if strings.Contains(group, "::group::") {
			t.Errorf("the group of %s holds another group", svc)
		}
	}
	if strings.Contains(r.stderr, "builder output") {
		t.Errorf("builder lines outside the groups:\n%s", r.stderr)
	}
	if info, err := os.Stat(filepath.Join(s.app.Dir, ".git")); err != nil || ownerUID(info) != runnerUID {
		t.Errorf("the workspace changed owner (%v)", err)
	}

	// run on a release-candidate tag, then on the release tag, of the same
	// commit: re-tagged by digest, never rebuilt; staging's PR, then prod's.
	pushed := map[string]string{}
	for _, im := range images {
		pushed[im.Service] = im.Digest
	}
	s.checkRelease(t, change, pushed, func(ev harness.Event) map[string]string {
		return s.asRunner(t, ev, map[string]string{"command": "run"})
	})

	// A revision git cannot resolve is a documented failure, not git's 128.
	bad := s.gh.PushEvent(repo, "refs/heads/main", "1111111111111111111111111111111111111111", change, false)
	env = s.asRunner(t, bad, map[string]string{"command": "plan"})
	r = s.exec(env)
	if r.code < 0 || r.code > 3 {
		t.Errorf("plan with an unknown base exited %d, not a documented code\n%s", r.code, r.stderr)
	}
}

// TestActionAppInputs runs the action with the app-id and app-private-key
// inputs and no github.app in the config: the push run writes to the
// manifests repository as the App's installation, not with the workflow
// token, and says nothing about a fallback.
func TestActionAppInputs(t *testing.T) {
	s := newShop(t)
	app := s.gh.RegisterApp("automator-inputs", nil)
	s.gh.InstallApp(app, "acme")
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	s.app.WriteFile("libs/common/common.txt", "shared library v7\n")
	change := s.app.Commit("common: v7")
	s.app.PushTo(s.gh, shopRepo)

	s.gh.ResetRequests()
	env := s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false), map[string]string{
		"command": "run", "app-id": strconv.FormatInt(app.ID, 10), "app-private-key": string(app.PrivateKeyPEM),
	})
	r := s.exec(env)
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	requireAppWrites(t, s.gh)
	if strings.Contains(r.stdout+r.summary, "no GitHub App configured") {
		t.Errorf("a fallback to the token was announced although the App inputs are set")
	}
}
