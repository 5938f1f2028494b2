package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

const (
	shopRepo     = "acme/shop"
	manifestRepo = "acme/manifests"
	regUser      = "ci"
	regPassword  = "reg-secret-4f9a1c"
)

// shop is the sample monorepo of testdata/demo wired to a real registry (with
// basic auth), the git-backed GitHub fake (app and manifests repositories)
// and a Trivy DB built by the test.
type shop struct {
	t        *testing.T
	reg      *harness.Registry
	gh       *harness.GitHub
	app      *harness.GitRepo
	bin      string
	seed     string // manifests commit before any promotion
	initial  string // app commit before the change
	scanDir  string
	manifest map[string]string // original manifests by path
}

func newShop(t *testing.T) *shop {
	t.Helper()
	return newShopWith(t, nil)
}

// newShopWith is newShop with the app's config edited by edit (when not
// nil) and the files it returns added, before the initial commit.
func newShopWith(t *testing.T, edit func(cfg string) (string, map[string]string)) *shop {
	t.Helper()
	harness.RequireBinary(t, "buildah")
	s := &shop{t: t, bin: automatorBinary(t)}
	s.reg = harness.StartRegistry(t, harness.WithBasicAuth(regUser, regPassword))
	s.gh = harness.StartGitHub(t)
	s.gh.AddUser("platform-oncall") // prod's reviewer

	s.scanDir = t.TempDir()
	if err := scantest.WriteDB(s.scanDir, scantest.FreshDB(time.Now())); err != nil {
		t.Fatal(err)
	}

	manifests := t.TempDir()
	copyTree(t, "../testdata/demo/manifests", manifests)
	s.manifest = map[string]string{}
	for _, p := range []string{"envs/dev/values.yaml", "envs/staging/values.yaml", "envs/prod/kustomization.yaml"} {
		raw, err := os.ReadFile(filepath.Join(manifests, p))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(raw), "REGISTRY", s.reg.Host)
		if err := os.WriteFile(filepath.Join(manifests, p), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s.manifest[p] = text
	}
	s.seed = s.gh.CreateRepo("acme", "manifests", "main", manifests)

	s.app = harness.NewGitRepo(t, t.TempDir())
	s.app.CopyDir("../testdata/demo/app", ".")
	cfg := s.app.ReadFile(".github/automator.yaml")
	cfg = strings.ReplaceAll(cfg, "MANIFESTS", manifestRepo)
	cfg = strings.Replace(cfg, "    insecure: true\n", "    insecure: true\n    usernameEnv: REG_USER\n    passwordEnv: REG_PASS\n", 1)
	cfg = strings.Replace(cfg, "scan:\n", "scan:\n  cacheDir: "+s.scanDir+"\n", 1)
	cfg = strings.ReplaceAll(cfg, "REGISTRY", s.reg.Host)
	if edit != nil {
		var files map[string]string
		cfg, files = edit(cfg)
		for p, c := range files {
			s.app.WriteFile(p, c)
		}
	}
	s.app.WriteFile(".github/automator.yaml", cfg)
	s.initial = s.app.Commit("initial import")
	s.app.PushTo(s.gh, shopRepo)
	return s
}

// actionEnv is the environment the runner gives the container action for ev:
// the GITHUB_* variables, the step's inputs as INPUT_*, and nothing else of
// this process but PATH and HOME. GITHUB_TOKEN is not passed to container
// actions; the github-token input carries it.
func (s *shop) actionEnv(ev harness.Event, inputs map[string]string) map[string]string {
	env := s.gh.ActionsEnv(s.t, shopRepo, ev, s.app.Dir)
	delete(env, "GITHUB_TOKEN")
	env["INPUT_GITHUB-TOKEN"] = s.gh.Token
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	env["DOCKER_CONFIG"] = s.t.TempDir()
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	return env
}

type runResult struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
	summary        string
}

// exec runs the binary in the app checkout with exactly env (plus PATH and HOME).
func (s *shop) exec(env map[string]string, args ...string) runResult {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.app.Dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	r := runCommand(s.t, cmd)
	if p := env["GITHUB_OUTPUT"]; p != "" {
		raw, err := os.ReadFile(p)
		if err != nil {
			s.t.Fatal(err)
		}
		if r.outputs, err = actions.ParseOutputs(string(raw)); err != nil {
			s.t.Fatalf("GITHUB_OUTPUT does not parse: %v\n%s", err, raw)
		}
	}
	if p := env["GITHUB_STEP_SUMMARY"]; p != "" {
		raw, _ := os.ReadFile(p)
		r.summary = string(raw)
	}
	for _, secret := range []string{regPassword, s.gh.Token} {
		if strings.Contains(r.stdout+r.stderr+r.summary, secret) {
			s.t.Errorf("a secret was printed (%.6s…)", secret)
		}
	}
	return r
}

func (r runResult) output(t *testing.T, name string, v any) {
	t.Helper()
	raw, ok := r.outputs[name]
	if !ok {
		t.Fatalf("output %q missing; outputs: %v", name, r.outputs)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		t.Fatalf("output %q = %q: %v", name, raw, err)
	}
}

type imageOut struct {
	Service, Image, Digest string
	Tags                   []string
	Pushed                 bool
}

// changedLines lists the 1-based lines that differ between two texts of the
// same line count (rewrites never add or remove lines in these files).
func changedLines(t *testing.T, a, b string) []int {
	t.Helper()
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		t.Fatalf("line count changed: %d → %d\n%s", len(al), len(bl), b)
	}
	var out []int
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, i+1)
		}
	}
	return out
}

func (s *shop) headDigest(ref string) string {
	s.t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		s.t.Fatal(err)
	}
	d, err := remote.Head(r, remote.WithAuth(s.reg.Authenticator()))
	if err != nil {
		s.t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest.String()
}

// TestRunAsContainerAction runs the binary the way the runner runs the
// container action — no arguments, INPUT_* variables and the GITHUB_*
// environment of a push event — on the sample monorepo: one commit touches
// the shared library, so exactly cart (COPY libs/common) and checkout
// (dependsOn libs/common) are built, scanned, pushed and committed to dev.
// A release-candidate tag then opens the staging pull request, in which the
// gate keeps the vulnerable frontend out (exit 3), and prod is promoted from
// what staging runs once that PR is merged.
func TestRunAsContainerAction(t *testing.T) {
	s := newShop(t)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}

	s.app.WriteFile("libs/common/common.txt", "shared library v2\n")
	change := s.app.Commit("common: v2")
	s.app.PushTo(s.gh, shopRepo)

	// 1. Push to main → dev, by direct commit.
	r := s.exec(s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false), map[string]string{"command": "run", "log-level": "debug"}))
	if r.code != 0 {
		t.Fatalf("push run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var services []string
	r.output(t, "services", &services)
	if strings.Join(services, ",") != "cart,checkout" {
		t.Fatalf("services = %v, want cart,checkout", services)
	}
	if r.outputs["any"] != "true" || !strings.Contains(r.outputs["matrix"], `"service":"cart"`) {
		t.Errorf("any = %q, matrix = %q", r.outputs["any"], r.outputs["matrix"])
	}
	var images []imageOut
	r.output(t, "images", &images)
	if len(images) != 2 {
		t.Fatalf("images = %+v", images)
	}
	short := change[:12]
	digests := map[string]string{}
	for _, im := range images {
		if !im.Pushed || strings.Join(im.Tags, ",") != "sha-"+short {
			t.Errorf("image %+v", im)
		}
		if got := s.headDigest(im.Image + ":sha-" + short); got != im.Digest {
			t.Errorf("%s: registry digest %s, output %s", im.Service, got, im.Digest)
		}
		digests[im.Service] = im.Digest
	}
	var commits []struct{ Environment, SHA, URL string }
	r.output(t, "commits", &commits)
	if len(commits) != 1 || commits[0].Environment != "dev" || commits[0].SHA == "" {
		t.Fatalf("commits = %+v", commits)
	}
	if head, _ := s.gh.RevParse(manifestRepo, "main"); head != commits[0].SHA {
		t.Errorf("manifests main = %s, commits output %s", head, commits[0].SHA)
	}
	var prs, blocked []map[string]any
	r.output(t, "pull-requests", &prs)
	r.output(t, "blocked", &blocked)
	if len(prs) != 0 || len(blocked) != 0 {
		t.Errorf("pull-requests = %v, blocked = %v", prs, blocked)
	}
	dev, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml")
	if lines := changedLines(t, s.manifest["envs/dev/values.yaml"], dev); len(lines) != 2 {
		t.Errorf("dev values: changed lines %v, want the two tags\n%s", lines, dev)
	}
	for _, svc := range []string{"cart", "checkout"} {
		if !strings.Contains(dev, "sha-"+short+"@"+digests[svc]) {
			t.Errorf("dev values do not pin %s at %s:\n%s", svc, digests[svc], dev)
		}
	}
	if !strings.Contains(dev, "tag: \"sha-"+short+"@"+digests["cart"]+"\" # first release") {
		t.Errorf("the comment on cart's tag line was not kept:\n%s", dev)
	}
	if tags, err := remote.List(mustRepo(t, s.reg.Ref("acme/frontend")), remote.WithAuth(s.reg.Authenticator())); err == nil && len(tags) > 0 {
		t.Errorf("frontend was not selected but has tags %v", tags)
	}
	for _, want := range []string{"| cart |", "| checkout |", "| dev | commit", "dev: **pass**"} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("job summary lacks %q:\n%s", want, r.summary)
		}
	}
	if !strings.Contains(r.stdout, "::group::cart") || !strings.Contains(r.stdout, "::endgroup::") {
		t.Errorf("build logs are not grouped:\n%s", r.stdout)
	}

	// A re-run of the same event changes nothing in the manifests repo.
	before, _ := s.gh.RevParse(manifestRepo, "main")
	r = s.exec(s.actionEnv(s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false), map[string]string{"command": "run"}))
	if r.code != 0 {
		t.Fatalf("re-run exit %d\n%s", r.code, r.stderr)
	}
	if after, _ := s.gh.RevParse(manifestRepo, "main"); after != before {
		t.Errorf("an identical re-run moved main: %s → %s", before, after)
	}

	// 2. Release candidate tag → staging PR; the vulnerable frontend is blocked.
	s.app.Tag("v0.2.0-rc1")
	s.app.PushTo(s.gh, shopRepo)
	r = s.exec(s.actionEnv(s.gh.PushEvent(repo, "refs/tags/v0.2.0-rc1", zeroSHA, change, false), map[string]string{"command": "run"}))
	if r.code != 3 {
		t.Fatalf("tag run exit %d, want 3 (gate blocked frontend)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r.output(t, "images", &images)
	pushed := map[string]bool{}
	for _, im := range images {
		pushed[im.Service] = im.Pushed
	}
	if len(images) != 3 || !pushed["cart"] || !pushed["checkout"] || pushed["frontend"] {
		t.Errorf("images = %+v; want cart and checkout pushed, frontend not", images)
	}
	if tags, err := remote.List(mustRepo(t, s.reg.Ref("acme/frontend")), remote.WithAuth(s.reg.Authenticator())); err == nil && len(tags) > 0 {
		t.Errorf("the blocked frontend image was pushed: %v", tags)
	}
	r.output(t, "blocked", &blocked)
	if len(blocked) != 1 || blocked[0]["service"] != "frontend" || blocked[0]["environment"] != "staging" {
		t.Errorf("blocked = %v", blocked)
	}
	r.output(t, "pull-requests", &prs)
	if len(prs) != 1 || prs[0]["environment"] != "staging" {
		t.Fatalf("pull-requests = %v", prs)
	}
	pulls := s.gh.PullRequests(manifestRepo)
	if len(pulls) != 1 || pulls[0].Head != "automator/staging" {
		t.Fatalf("fake pull requests = %+v", pulls)
	}
	staging, _ := s.gh.ReadFile(manifestRepo, "automator/staging", "envs/staging/values.yaml")
	if lines := changedLines(t, s.manifest["envs/staging/values.yaml"], staging); len(lines) != 2 || !strings.Contains(staging, "0.2.0-rc1@sha256:") {
		t.Errorf("staging values on the PR branch (changed lines %v):\n%s", lines, staging)
	}
	for _, want := range []string{"frontend", "CVE-2023-9999", "cart", "checkout"} {
		if !strings.Contains(pulls[0].Body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, pulls[0].Body)
		}
	}

	// 3. Merge staging; prod is proposed exactly what staging runs, after
	// prod's own (remote) scan.
	s.gh.MergePull(manifestRepo, pulls[0].Number)
	stagingNow, _ := s.gh.ReadFile(manifestRepo, "main", "envs/staging/values.yaml")
	env := s.gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	r = s.exec(env, "promote", "--env", "prod")
	if r.code != 0 {
		t.Fatalf("promote exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	prod, ok := s.gh.ReadFile(manifestRepo, "automator/prod", "envs/prod/kustomization.yaml")
	if !ok {
		t.Fatalf("no automator/prod branch; pulls: %+v", s.gh.PullRequests(manifestRepo))
	}
	for _, svc := range []string{"cart", "checkout"} {
		var d string
		for _, im := range images {
			if im.Service == svc {
				d = im.Digest
			}
		}
		if !strings.Contains(prod, d) || !strings.Contains(stagingNow, d) {
			t.Errorf("prod PR does not pin %s at the digest staging runs (%s):\n%s", svc, d, prod)
		}
	}
	if strings.Contains(prod, "frontend\n    newTag: \"0.2.0") {
		t.Errorf("prod got the blocked frontend:\n%s", prod)
	}
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFanOutMatchesSingleJob runs the fan-out workflow — plan, one build
// process per matrix entry writing result files, promote --results — and
// then the single-job run on the same push from the same manifests commit:
// both leave exactly the same dev manifests (builds are reproducible, so the
// digests agree too).
func TestFanOutMatchesSingleJob(t *testing.T) {
	s := newShop(t)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	s.app.WriteFile("libs/common/common.txt", "shared library v3\n")
	change := s.app.Commit("common: v3")
	s.app.PushTo(s.gh, shopRepo)
	ev := s.gh.PushEvent(repo, "refs/heads/main", s.initial, change, false)

	r := s.exec(s.actionEnv(ev, map[string]string{"command": "plan"}))
	if r.code != 0 {
		t.Fatalf("plan exit %d\n%s", r.code, r.stderr)
	}
	var matrix struct{ Include []struct{ Service string } }
	r.output(t, "matrix", &matrix)
	if len(matrix.Include) != 2 {
		t.Fatalf("matrix = %+v", matrix)
	}
	results := t.TempDir()
	for i, job := range matrix.Include {
		dir := filepath.Join(results, "result-"+string(rune('0'+i)))
		r := s.exec(s.actionEnv(ev, map[string]string{"command": "build", "services": job.Service, "args": "--push --results " + dir}))
		if r.code != 0 {
			t.Fatalf("build %s exit %d\n%s", job.Service, r.code, r.stderr)
		}
	}
	r = s.exec(s.actionEnv(ev, map[string]string{"command": "promote", "results": results}))
	if r.code != 0 {
		t.Fatalf("promote --results exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	fanOut, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml")
	if lines := changedLines(t, s.manifest["envs/dev/values.yaml"], fanOut); len(lines) != 2 {
		t.Fatalf("fan-out changed dev lines %v:\n%s", lines, fanOut)
	}

	// Reset the manifests repo and run the single job on the same event.
	s.gh.ResetBranch(manifestRepo, "main", s.seed)
	r = s.exec(s.actionEnv(ev, map[string]string{"command": "run"}))
	if r.code != 0 {
		t.Fatalf("run exit %d\n%s", r.code, r.stderr)
	}
	single, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml")
	if single != fanOut {
		t.Errorf("fan-out and single job differ:\n--- fan-out\n%s\n--- single job\n%s", fanOut, single)
	}
	var images []imageOut
	r.output(t, "images", &images)
	sort.Slice(images, func(i, j int) bool { return images[i].Service < images[j].Service })
	if len(images) != 2 || images[0].Service != "cart" {
		t.Errorf("single job images = %+v", images)
	}
}

// TestRunPullRequestBuildsOnly: an event no environment's trigger names (a
// pull request here) builds and scans the changed services as a check and
// pushes and writes nothing.
func TestRunPullRequestBuildsOnly(t *testing.T) {
	s := newShop(t)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	s.app.Branch("feature")
	s.app.WriteFile("src/checkout/checkout.txt", "checkout service v2\n")
	head := s.app.Commit("checkout: v2")
	s.app.PushTo(s.gh, shopRepo)
	writes := len(s.gh.Writes())

	ev := s.gh.PullRequestEvent(repo, "synchronize", 7, "main", s.initial, "feature", head, head)
	r := s.exec(s.actionEnv(ev, map[string]string{"command": "run"}))
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var images []imageOut
	r.output(t, "images", &images)
	if len(images) != 1 || images[0].Service != "checkout" || images[0].Pushed || images[0].Digest == "" {
		t.Fatalf("images = %+v, want checkout built and not pushed", images)
	}
	if tags, err := remote.List(mustRepo(t, s.reg.Ref("acme/checkout")), remote.WithAuth(s.reg.Authenticator())); err == nil && len(tags) > 0 {
		t.Errorf("a pull request build was pushed: %v", tags)
	}
	if n := len(s.gh.Writes()) - writes; n != 0 {
		t.Errorf("a pull request run wrote %d times to GitHub", n)
	}
	if !strings.Contains(r.summary, "| checkout |") {
		t.Errorf("summary lacks the checked image:\n%s", r.summary)
	}
}
