package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// The default run is bounded for CI; AUTOMATOR_PROPERTY_SEED,
// AUTOMATOR_PROPERTY_SEQUENCES and AUTOMATOR_PROPERTY_STEPS run others.
const (
	propDefaultSeed      = 1
	propDefaultSequences = 3
	propDefaultSteps     = 8
	propSeedTag          = "0.1.0" // the tag of every seed image, pushed at setup and pinned with its digest
	propHumanEmail       = "dev@example.com"
)

var (
	propServices = []string{"cart", "checkout", "frontend"}
	propPromoted = []string{"cart", "checkout"} // frontend keeps its seed image
	propEnvs     = []string{"dev", "staging", "prod"}
	propFile     = map[string]string{"dev": "envs/dev/values.yaml", "staging": "envs/staging/values.yaml", "prod": "envs/prod/kustomization.yaml"}
	propUpstream = map[string]string{"staging": "dev", "prod": "staging"}
	digestRE     = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	// An image value line: the value is replaced when comparing what a bot
	// commit changed; digest lines may be added or dropped by a rewrite.
	imageLineRE  = regexp.MustCompile(`^(\s*(?:- )?(?:tag|newTag|image):[ \t]+)("[^"]*"|'[^']*'|[^\s#]+)(.*)$`)
	digestLineRE = regexp.MustCompile(`^\s*(?:- )?digest:`)
)

// pin is the image one service runs in one environment's file.
type pin struct{ repo, tag, digest string }

func (p pin) String() string {
	if p.digest == "" {
		return p.tag
	}
	return p.tag + "@" + p.digest
}

// TestPromotionSafetyProperty runs random, seeded sequences of pushes and
// promotions into dev, promotions into the promoteFrom environments staging
// (from dev) and prod (from staging), rollbacks whose pull request is merged,
// two promote processes at once, injected GitHub and registry faults
// (5xx, 422, latency) and human commits to main and to automator/<env>
// branches, with the built binary against the git-backed GitHub fake and a
// real registry. After every step it checks the invariants of issue 13:
//   - every image pinned on main and on every open pull request branch is one
//     this test pushed (its digest exists in the registry and its tag is the
//     tag it was pushed with), and for staging and prod one the upstream
//     environment pinned on main at some commit;
//   - no update is lost: each environment runs (on its open automator pull
//     request, else on main) exactly what its last successful promotion
//     wrote, unless a later step or a human decision (merged rollback,
//     closed pull request) replaced it;
//   - no file is half-written: every file parses as YAML, and every commit
//     automator made changes nothing but image values;
//   - a failing automator step exits non-zero with an error and leaves either
//     the old or the whole new state, and a promotion into an environment
//     whose pull request branch has a human commit fails and keeps the commit.
//
// The gate is on (offline Trivy DB without vulnerabilities): every image of
// this test passes it. That a failing image is kept out is covered by
// TestRunAsContainerAction and TestWatchOnceBinaryPromotesThroughGate.
func TestPromotionSafetyProperty(t *testing.T) {
	harness.RequireBinary(t, "git")
	bin := automatorBinary(t)
	seed := propEnvInt(t, "AUTOMATOR_PROPERTY_SEED", propDefaultSeed)
	sequences := propEnvInt(t, "AUTOMATOR_PROPERTY_SEQUENCES", propDefaultSequences)
	steps := propEnvInt(t, "AUTOMATOR_PROPERTY_STEPS", propDefaultSteps)
	start, ran := time.Now(), 0
	for i := range sequences {
		s := seed + i
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			w := newPropWorld(t, bin)
			rng := rand.New(rand.NewPCG(uint64(s), 0x13))
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("reproduce with AUTOMATOR_PROPERTY_SEED=%d AUTOMATOR_PROPERTY_SEQUENCES=1 AUTOMATOR_PROPERTY_STEPS=%d; steps:\n%s",
						s, steps, strings.Join(w.log, "\n"))
				}
			})
			w.check("setup")
			for n := range steps {
				w.step = n
				desc := w.randomStep(rng)
				w.log = append(w.log, fmt.Sprintf("  %d: %s", n, desc))
				w.check(desc)
				ran++
				if t.Failed() {
					t.Fatalf("seed %d, step %d (%s) broke an invariant", s, n, desc)
				}
			}
			t.Logf("seed %d steps:\n%s", s, strings.Join(w.log, "\n"))
		})
	}
	t.Logf("ran %d sequences, %d steps in total, in %s", sequences, ran, time.Since(start).Round(time.Second))
}

func propEnvInt(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", key, v)
	}
	return n
}

// propWorld is one sequence's registry, GitHub fake, app directory and model.
type propWorld struct {
	*shop   // registry, GitHub fake, binary and app directory; no manifests of its own
	gitDir  string
	dir     string
	configs [2]string // the same config with separate scan caches, one per concurrent process
	env     map[string]string
	step    int
	log     []string

	pushed    map[string]pin             // digest → what was pushed
	tagDigest map[string]string          // repo:tag → digest
	inRegOK   map[string]bool            // digests the registry confirmed
	expect    map[string]map[string]pin  // env → service → what it must run
	blocked   map[string]string          // env → human commit on its open pull request branch
	checked   map[string]bool            // commits whose changes were checked
	ranOn     map[string]map[string]bool // env → digests it pinned on main at some commit
	seenMain  map[string]bool            // main commits folded into ranOn
}

func newPropWorld(t *testing.T, bin string) *propWorld {
	t.Helper()
	w := &propWorld{shop: &shop{t: t, bin: bin}, pushed: map[string]pin{}, tagDigest: map[string]string{}, inRegOK: map[string]bool{},
		expect: map[string]map[string]pin{}, blocked: map[string]string{}, checked: map[string]bool{},
		ranOn: map[string]map[string]bool{}, seenMain: map[string]bool{}}
	w.reg = harness.StartRegistry(t)
	w.gh = harness.StartGitHub(t)
	for _, svc := range propServices {
		w.push(svc, propSeedTag)
	}
	manifests := t.TempDir()
	copyTree(t, "../testdata/demo/manifests", manifests)
	for _, p := range propFile {
		raw, err := os.ReadFile(filepath.Join(manifests, p))
		if err != nil {
			t.Fatal(err)
		}
		// The seed pins every image by tag and digest (promotion refuses
		// tag-only pins): values by "tag@digest", kustomize by a digest field.
		text := strings.ReplaceAll(string(raw), "REGISTRY", w.reg.Host)
		for _, svc := range propServices {
			repo := w.reg.Ref("acme/" + svc)
			d := w.tagDigest[repo+":"+propSeedTag]
			text = strings.NewReplacer(
				"repository: "+repo+"\n    tag: \""+propSeedTag+"\"", "repository: "+repo+"\n    tag: \""+propSeedTag+"@"+d+"\"",
				"image: "+repo+":"+propSeedTag+"\n", "image: "+repo+":"+propSeedTag+"@"+d+"\n",
				"name: "+repo+"\n    newTag: \""+propSeedTag+"\"\n", "name: "+repo+"\n    newTag: \""+propSeedTag+"\"\n    digest: "+d+"\n",
			).Replace(text)
		}
		if strings.Count(text, "@sha256:")+strings.Count(text, "digest: sha256:") != len(propServices) {
			t.Fatalf("seeding %s with digests:\n%s", p, text)
		}
		if err := os.WriteFile(filepath.Join(manifests, p), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.gh.CreateRepo("acme", "manifests", "main", manifests)
	w.gitDir = w.gh.GitDir(manifestRepo)

	w.app = harness.NewGitRepo(t, "") // only the directory processes run in
	w.dir = w.app.Dir
	for i := range w.configs {
		scanDir := t.TempDir()
		if err := scantest.WriteDB(scanDir, scantest.FreshDB(time.Now())); err != nil {
			t.Fatal(err)
		}
		w.configs[i] = filepath.Join(w.dir, fmt.Sprintf("automator-%d.yaml", i))
		cfg := strings.NewReplacer("REGISTRY", w.reg.Host, "SCANDIR", scanDir).Replace(`version: 1
services:
  - {name: cart, context: src/cart, image: REGISTRY/acme/cart}
  - {name: checkout, context: src/checkout, image: REGISTRY/acme/checkout}
  - {name: frontend, context: src/frontend, image: REGISTRY/acme/frontend}
registries:
  - {host: REGISTRY, insecure: true}
scan:
  offline: true
  cacheDir: SCANDIR
  policy: {failOn: [CRITICAL]}
environments:
  - {name: dev, repo: acme/manifests, files: [envs/dev/values.yaml], mode: commit, retryFor: 1m}
  - name: staging
    repo: acme/manifests
    files: [envs/staging/values.yaml]
    mode: pull-request
    promoteFrom: dev
    retryFor: 1m
    pullRequest: {labels: [promotion]}
  - name: prod
    repo: acme/manifests
    files: [envs/prod/kustomization.yaml]
    mode: pull-request
    promoteFrom: staging
    retryFor: 1m
    gate: {failOn: [CRITICAL, HIGH], ignoreUnfixed: true}
`)
		if err := os.WriteFile(w.configs[i], []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, svc := range propServices {
		if err := os.MkdirAll(filepath.Join(w.dir, "src", svc), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.dir, "src", svc, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.env = w.gh.Env(manifestRepo)
	w.env["DOCKER_CONFIG"] = t.TempDir()
	for _, e := range propEnvs {
		w.expect[e] = w.pins("main", e)
	}
	return w
}

// push pushes a new random image as acme/svc:tag and records it.
func (w *propWorld) push(svc, tag string) (ref string, p pin) {
	w.t.Helper()
	ref, digest := w.pushRandom("acme/"+svc, tag)
	p = pin{repo: w.reg.Ref("acme/" + svc), tag: tag, digest: digest}
	w.pushed[p.digest] = p
	w.tagDigest[p.repo+":"+tag] = p.digest
	return ref, p
}

// propResult is one automator process's exit code and output.
type propResult struct {
	args []string
	runResult
}

func (r propResult) String() string {
	return fmt.Sprintf("automator %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs one automator process per argument list, all at once, the i-th
// with config i%2 (its own scan cache); a failing one must say why.
func (w *propWorld) run(argLists ...[]string) []propResult {
	w.t.Helper()
	withConfig := make([][]string, len(argLists))
	for i, args := range argLists {
		withConfig[i] = append([]string{args[0], "--config", w.configs[i%2]}, args[1:]...)
	}
	out := make([]propResult, len(argLists))
	for i, r := range w.execTogether(w.env, withConfig...) {
		out[i] = propResult{args: withConfig[i], runResult: r}
		if r.code != 0 && strings.TrimSpace(r.stderr) == "" {
			w.t.Errorf("a failing step printed no error: %s", out[i])
		}
	}
	return out
}

func (w *propWorld) git(args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"--git-dir", w.gitDir}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

func (w *propWorld) rev(ref string) string {
	sha, _ := w.gh.RevParse(manifestRepo, ref)
	return sha
}

func (w *propWorld) file(rev, env string) (string, bool) {
	return w.gh.ReadFile(manifestRepo, rev, propFile[env])
}

// openPull is the open pull request whose head is branch, or nil.
func (w *propWorld) openPull(branch string) *harness.PullRequest {
	for _, p := range w.gh.PullRequests(manifestRepo) {
		if p.State == "open" && p.Head == branch {
			return &p
		}
	}
	return nil
}

// effectiveRev is where env's next state is: its open automator pull
// request, else main.
func (w *propWorld) effectiveRev(env string) string {
	if env != "dev" && w.openPull("automator/"+env) != nil {
		return "automator/" + env
	}
	return "main"
}

// pins reads the images env's file pins at rev; it fails the test when the
// file is missing or does not parse.
func (w *propWorld) pins(rev, env string) map[string]pin {
	w.t.Helper()
	text, ok := w.file(rev, env)
	if !ok {
		w.t.Fatalf("%s: %s is missing", rev, propFile[env])
	}
	p, err := parsePins(env, text)
	if err != nil {
		w.t.Fatalf("%s:%s: %v\n%s", rev, propFile[env], err, text)
	}
	return p
}

// parsePins reads the image of each service from a Helm values file
// (repository + tag [+ digest], or a reference string) or a kustomization
// (images entries by name).
func parsePins(env, text string) (map[string]pin, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	out := map[string]pin{}
	if env == "prod" {
		images, _ := doc["images"].([]any)
		for _, e := range images {
			m, _ := e.(map[string]any)
			repo := fmt.Sprint(m["name"])
			p := pin{repo: repo, tag: scalar(m["newTag"]), digest: scalar(m["digest"])}
			out[repo[strings.LastIndex(repo, "/")+1:]] = splitTag(p)
		}
	} else {
		for _, svc := range propServices {
			sec, _ := doc[svc].(map[string]any)
			switch img := sec["image"].(type) {
			case string:
				ref, dg, _ := strings.Cut(img, "@")
				i := strings.LastIndex(ref, ":")
				out[svc] = pin{repo: ref[:i], tag: ref[i+1:], digest: dg}
			case map[string]any:
				out[svc] = splitTag(pin{repo: scalar(img["repository"]), tag: scalar(img["tag"]), digest: scalar(img["digest"])})
			default:
				return nil, fmt.Errorf("%s has no image", svc)
			}
		}
	}
	n := 0
	for _, p := range out {
		if p.digest != "" {
			n++
		}
	}
	if all := len(digestRE.FindAllString(text, -1)); all != n {
		return nil, fmt.Errorf("%d digests in the file, %d in image values", all, n)
	}
	return out, nil
}

func scalar(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// splitTag moves a digest written into the tag ("1.2.0@sha256:…") to digest.
func splitTag(p pin) pin {
	if t, d, ok := strings.Cut(p.tag, "@"); ok {
		if p.digest != "" && p.digest != d {
			p.digest = "conflict:" + p.digest + "/" + d
		} else {
			p.digest = d
		}
		p.tag = t
	}
	return p
}

// same reports whether got runs want: the same tag and digest, or want's
// tag with the digest it was pushed with when want names no digest.
func (w *propWorld) same(want, got pin) bool {
	if want.repo != got.repo || want.tag != got.tag {
		return false
	}
	return want.digest == got.digest || (want.digest == "" && got.digest == w.tagDigest[want.repo+":"+want.tag])
}

// skeleton is a file with its image values blanked and digest lines dropped.
func skeleton(text string) string {
	lines := strings.Split(text, "\n")
	out := lines[:0]
	for _, l := range lines {
		if digestLineRE.MatchString(l) {
			continue
		}
		out = append(out, imageLineRE.ReplaceAllString(l, "${1}<image>${3}"))
	}
	return strings.Join(out, "\n")
}

// randomStep runs one random step and describes it.
func (w *propWorld) randomStep(rng *rand.Rand) string {
	w.t.Helper()
	kinds := []struct {
		weight int
		run    func(*rand.Rand) string
	}{
		{4, func(r *rand.Rand) string { return w.pushAndPromote(r, nil) }},
		{2, func(*rand.Rand) string { return w.promoteFrom("staging", nil) }},
		{2, func(*rand.Rand) string { return w.promoteFrom("prod", nil) }},
		{2, w.mergeOne},
		{1, w.rollback},
		{1, w.concurrent},
		{2, w.withFault},
		{1, w.humanMain},
		{1, w.humanBranch},
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := rng.IntN(total)
	for _, k := range kinds {
		if n < k.weight {
			return k.run(rng)
		}
		n -= k.weight
	}
	panic("unreachable")
}

// fault is what a step injected; nil when none.
type fault struct {
	what         string
	pullRequests bool // only a pull-request environment can meet it
}

// pushAndPromote pushes a new image of cart or checkout and promotes it into dev.
func (w *propWorld) pushAndPromote(rng *rand.Rand, f *fault) string {
	svc := propPromoted[rng.IntN(len(propPromoted))]
	ref, p := w.push(svc, fmt.Sprintf("1.%d.0", w.step))
	before := w.rev("main")
	r := w.run([]string{"promote", "--env", "dev", "--set", svc + "=" + ref})[0]
	desc := fmt.Sprintf("push %s %s, promote dev", svc, p)
	got := w.pins("main", "dev")[svc]
	switch {
	case r.code == 0:
		if !w.same(p, got) {
			w.t.Errorf("%s: exit 0 but dev runs %s: %s", desc, got, r)
		}
		w.expect["dev"][svc] = p
	case f == nil:
		w.t.Errorf("%s failed without a fault: %s", desc, r)
	case w.rev("main") == before:
		desc += fmt.Sprintf(" (failed, exit %d, nothing written)", r.code)
	case w.same(p, got):
		desc += fmt.Sprintf(" (failed, exit %d, but the whole change landed)", r.code)
		w.expect["dev"][svc] = p
	default:
		w.t.Errorf("%s failed and moved main without the change: %s", desc, r)
	}
	return desc
}

// promoteFrom promotes env from its upstream's main.
func (w *propWorld) promoteFrom(env string, f *fault) string {
	up := w.pins("main", propUpstream[env])
	branch := "automator/" + env
	headBefore, effBefore := w.rev(branch), w.pins(w.effectiveRev(env), env)
	mainBefore := w.rev("main")
	r := w.run([]string{"promote", "--env", env})[0]
	desc := "promote " + env + " from " + propUpstream[env]
	want := map[string]pin{}
	for svc, p := range w.expect[env] {
		want[svc] = p
	}
	for _, svc := range propServices {
		want[svc] = up[svc]
	}
	eff := w.pins(w.effectiveRev(env), env)
	if now := w.rev("main"); now != mainBefore {
		w.t.Errorf("%s: a pull-request environment moved main", desc)
	}
	if m := regexp.MustCompile(`/pull/(\d+)`).FindStringSubmatch(r.stdout); r.code == 0 && m != nil {
		if p := w.openPull(branch); p == nil || strconv.Itoa(p.Number) != m[1] {
			w.t.Errorf("%s: the output names pull request %s, but the open one of %s is %+v", desc, m[1], branch, p)
		}
	}
	switch {
	case w.blocked[env] != "":
		if r.code == 0 {
			w.t.Errorf("%s: exit 0 although %s has the human commit %s: %s", desc, branch, w.blocked[env], r)
		}
		if now := w.rev(branch); now != headBefore {
			w.t.Errorf("%s: the human commit %s on %s was written over (head %s)", desc, w.blocked[env], branch, now)
		}
		return desc + fmt.Sprintf(" (refused, exit %d: human commit on %s)", r.code, branch)
	case r.code == 0:
		if !w.allSame(want, eff) {
			w.t.Errorf("%s: exit 0 but %s runs %v, want %v: %s", desc, w.effectiveRev(env), eff, want, r)
		}
		w.expect[env] = want
	case f == nil:
		w.t.Errorf("%s failed without a fault: %s", desc, r)
	case f.pullRequests && !strings.Contains(r.stderr, "Draft pull requests are not supported"):
		w.t.Errorf("%s: the 422 failed the step without GitHub's message: %s", desc, r)
	case w.allSame(effBefore, eff):
		desc += fmt.Sprintf(" (failed, exit %d, nothing changed)", r.code)
	case w.allSame(want, eff):
		desc += fmt.Sprintf(" (failed, exit %d, but the whole change landed)", r.code)
		w.expect[env] = want
	default:
		w.t.Errorf("%s failed and left %v (before %v, wanted %v): %s", desc, eff, effBefore, want, r)
	}
	return desc
}

func (w *propWorld) allSame(want, got map[string]pin) bool {
	for _, svc := range propServices {
		if !w.same(want[svc], got[svc]) {
			return false
		}
	}
	return true
}

// mergeOne merges a random open pull request as a reviewer would, or closes
// it when it no longer merges cleanly.
func (w *propWorld) mergeOne(rng *rand.Rand) string {
	var open []harness.PullRequest
	for _, p := range w.gh.PullRequests(manifestRepo) {
		if p.State == "open" {
			open = append(open, p)
		}
	}
	if len(open) == 0 {
		return "merge: no open pull request; " + w.promoteFrom(propEnvs[1+rng.IntN(2)], nil)
	}
	p := open[rng.IntN(len(open))]
	return w.mergePull(p)
}

func (w *propWorld) mergePull(p harness.PullRequest) string {
	env := strings.TrimPrefix(strings.TrimPrefix(p.Head, "automator/"), "rollback-")
	if _, err := w.git("merge-tree", "--write-tree", "--no-messages", "main", p.Head); err != nil {
		w.gh.ClosePull(manifestRepo, p.Number)
		delete(w.blocked, env)
		w.expect[env] = w.pins("main", env) // a human decision: the pending change is dropped
		return fmt.Sprintf("close #%d (%s): conflicts with main", p.Number, p.Head)
	}
	w.gh.MergePull(manifestRepo, p.Number)
	delete(w.blocked, env)
	if strings.HasPrefix(p.Head, "automator/rollback-") {
		w.expect[env] = w.pins("main", env) // a human decision: what the rollback restored
	}
	return fmt.Sprintf("merge #%d (%s)", p.Number, p.Head)
}

// rollback rolls dev back to a random earlier main commit and, half of the
// time, merges the pull request at once.
func (w *propWorld) rollback(rng *rand.Rand) string {
	// Mostly a commit where dev ran something else than now.
	log, now := w.gh.Log(manifestRepo, "main"), w.pins("main", "dev")
	var other []string
	for _, sha := range log {
		if !w.allSame(w.pins(sha, "dev"), now) {
			other = append(other, sha)
		}
	}
	to := log[rng.IntN(len(log))]
	if len(other) > 0 && rng.IntN(4) != 0 {
		to = other[rng.IntN(len(other))]
	}
	want := w.pins(to, "dev")
	r := w.run([]string{"rollback", "--env", "dev", "--to", to})[0]
	desc := "rollback dev to " + to[:12]
	if r.code != 0 {
		if w.allSame(want, w.pins("main", "dev")) && strings.Contains(r.stderr, "already runs the images of that commit") {
			return desc + fmt.Sprintf(" (exit %d: dev already runs it)", r.code)
		}
		w.t.Errorf("%s failed: %s", desc, r)
		return desc
	}
	p := w.openPull("automator/rollback-dev")
	if p == nil {
		if !w.allSame(want, w.pins("main", "dev")) {
			w.t.Errorf("%s: exit 0 but no rollback pull request: %s", desc, r)
		}
		return desc + " (nothing to change)"
	}
	if got := w.pins(p.Head, "dev"); !w.allSame(want, got) {
		w.t.Errorf("%s: the rollback branch runs %v, want %v", desc, got, want)
	}
	if rng.IntN(2) == 0 {
		return desc + ", " + w.mergePull(*p)
	}
	return desc
}

// concurrent promotes into dev from two processes at once: two services, or
// (a third of the time) two images of one service, where either may win.
func (w *propWorld) concurrent(rng *rand.Rand) string {
	if rng.IntN(4) == 0 && w.blocked["staging"] == "" {
		return w.concurrentStaging()
	}
	a, b := "cart", "checkout"
	if rng.IntN(3) == 0 {
		b = a
	}
	refA, pa := w.push(a, fmt.Sprintf("1.%d.0", w.step))
	refB, pb := w.push(b, fmt.Sprintf("1.%d.1", w.step))
	rs := w.run([]string{"promote", "--env", "dev", "--set", a + "=" + refA}, []string{"promote", "--env", "dev", "--set", b + "=" + refB})
	desc := fmt.Sprintf("concurrently promote dev %s=%s and %s=%s", a, pa, b, pb)
	for _, r := range rs {
		if r.code != 0 {
			w.t.Errorf("%s: %s", desc, r)
		}
	}
	got := w.pins("main", "dev")
	switch {
	case a != b:
		if !w.same(pa, got[a]) || !w.same(pb, got[b]) {
			w.t.Errorf("%s: an update was lost: dev runs %v", desc, got)
		}
		w.expect["dev"][a], w.expect["dev"][b] = pa, pb
	case w.same(pa, got[a]) || w.same(pb, got[a]):
		w.expect["dev"][a] = got[a] // the later writer superseded the other
	default:
		w.t.Errorf("%s: dev runs %s, neither", desc, got[a])
	}
	return desc
}

// concurrentStaging promotes staging from dev by two processes at once:
// both succeed and one pull request carries what dev runs.
func (w *propWorld) concurrentStaging() string {
	desc := "concurrently promote staging from dev twice"
	up := w.pins("main", "dev")
	for _, r := range w.run([]string{"promote", "--env", "staging"}, []string{"promote", "--env", "staging"}) {
		if r.code != 0 {
			w.t.Errorf("%s: %s", desc, r)
		}
	}
	open := 0
	for _, p := range w.gh.PullRequests(manifestRepo) {
		if p.State == "open" && p.Head == "automator/staging" {
			open++
		}
	}
	if open > 1 {
		w.t.Errorf("%s: %d open pull requests from automator/staging", desc, open)
	}
	if got := w.pins(w.effectiveRev("staging"), "staging"); !w.allSame(up, got) {
		w.t.Errorf("%s: staging runs %v on %s, want %v", desc, got, w.effectiveRev("staging"), up)
	}
	w.expect["staging"] = up
	return desc
}

// withFault injects one GitHub or registry fault (or latency) and runs a
// promotion into dev or staging through it.
func (w *propWorld) withFault(rng *rand.Rand) string {
	defer func() {
		w.gh.ClearFaults()
		w.reg.ClearFaults()
		w.gh.SetLatency(0)
	}()
	const repoPath = `^/repos/acme/manifests/`
	var f fault
	switch rng.IntN(6) {
	case 0:
		skip := rng.IntN(12)
		w.gh.InjectFault(w.t, harness.Fault{Path: repoPath, Skip: skip, Status: 502, Body: `{"message":"Bad Gateway"}`})
		f.what = fmt.Sprintf("GitHub 502 on repository call %d", skip+1)
	case 1:
		skip := rng.IntN(12)
		w.gh.InjectFault(w.t, harness.Fault{Path: repoPath, Skip: skip, Times: 3, Status: 503, Body: `{"message":"Service Unavailable"}`})
		f.what = fmt.Sprintf("GitHub 503 on repository calls %d-%d", skip+1, skip+3)
	case 2:
		w.gh.InjectFault(w.t, harness.Fault{Method: "POST", Path: repoPath + `pulls$`, Status: 422,
			Body: `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"Draft pull requests are not supported in this repository."}]}`})
		f.what, f.pullRequests = "GitHub 422 (drafts not supported) on pull request creation", true
	case 3:
		skip := rng.IntN(8)
		w.gh.InjectFault(w.t, harness.Fault{Method: "PATCH", Path: repoPath + `git/refs/`, Skip: skip, Status: 422,
			Body: `{"message":"Update is not a fast forward"}`})
		f.what = "GitHub 422 (not a fast forward) on a ref update"
	case 4:
		w.gh.SetLatency(150 * time.Millisecond)
		f.what = "150 ms GitHub latency"
	default:
		skip := rng.IntN(4)
		w.reg.InjectFault(w.t, harness.Fault{Path: `^/v2/acme/`, Skip: skip, Status: 503, Body: `{"errors":[{"code":"UNAVAILABLE","message":"service unavailable"}]}`})
		f.what = fmt.Sprintf("registry 503 on request %d", skip+1)
	}
	var desc string
	if !f.pullRequests && rng.IntN(2) == 0 {
		desc = w.pushAndPromote(rng, &f)
	} else {
		desc = w.promoteFrom("staging", &f)
	}
	return f.what + ": " + desc
}

// humanMain commits a non-image change to one environment's file on main as
// another identity.
func (w *propWorld) humanMain(rng *rand.Rand) string {
	env := propEnvs[rng.IntN(len(propEnvs))]
	c := harness.Clone(w.t, w.gh.AuthCloneURL(manifestRepo, w.gh.Token), harness.Depth(1))
	text := c.ReadFile(propFile[env])
	var edited string
	if env == "prod" {
		edited = strings.Replace(text, "# the shop's Deployments", fmt.Sprintf("# the shop's Deployments (reviewed %d)", w.step), 1)
	} else {
		edited = regexp.MustCompile(`replicas: \d+`).ReplaceAllString(text, fmt.Sprintf("replicas: %d", 2+w.step))
	}
	if edited == text {
		return "human edit of " + env + " on main: nothing to change"
	}
	c.WriteFile(propFile[env], edited)
	c.Commit(fmt.Sprintf("%s: tune (step %d)", env, w.step))
	if _, err := c.TryGit("push", "-q", "origin", "HEAD:main"); err != nil {
		w.t.Fatalf("pushing a human commit to main: %v", err)
	}
	return "human edit of " + env + " on main"
}

// humanBranch commits a reviewer's note to an open automator/<env> pull
// request branch: the next promotion into env must fail and keep it.
func (w *propWorld) humanBranch(rng *rand.Rand) string {
	prefix := ""
	openEnvs := func() []string {
		var open []string
		for _, env := range []string{"staging", "prod"} {
			if w.openPull("automator/"+env) != nil {
				open = append(open, env)
			}
		}
		return open
	}
	open := openEnvs()
	if len(open) == 0 { // open one first
		prefix = w.pushAndPromote(rng, nil) + ", " + w.promoteFrom("staging", nil) + ", "
		if open = openEnvs(); len(open) == 0 {
			return prefix + "no pull request to edit"
		}
	}
	env := open[rng.IntN(len(open))]
	branch := "automator/" + env
	c := harness.Clone(w.t, w.gh.AuthCloneURL(manifestRepo, w.gh.Token), harness.CloneBranch(branch))
	c.WriteFile(propFile[env], c.ReadFile(propFile[env])+fmt.Sprintf("# reviewed at step %d\n", w.step))
	sha := c.Commit("review note")
	if _, err := c.TryGit("push", "-q", "origin", "HEAD:"+branch); err != nil {
		w.t.Fatalf("pushing a human commit to %s: %v", branch, err)
	}
	w.blocked[env] = sha
	return prefix + "human commit on " + branch
}

// check verifies the invariants after a step.
func (w *propWorld) check(desc string) {
	w.t.Helper()
	w.foldMainHistory()
	revs := []string{"main"}
	for _, p := range w.gh.PullRequests(manifestRepo) {
		if p.State == "open" {
			revs = append(revs, p.Head)
		}
	}
	for _, rev := range revs {
		for _, env := range propEnvs {
			for svc, p := range w.pins(rev, env) {
				w.checkPin(desc, rev, env, svc, p)
			}
		}
	}
	for _, env := range propEnvs {
		rev := w.effectiveRev(env)
		if got := w.pins(rev, env); !w.allSame(w.expect[env], got) {
			w.t.Errorf("after %q: %s runs %v on %s, want %v (an update was lost or appeared from nowhere)", desc, env, got, rev, w.expect[env])
		}
	}
	w.checkCommits(desc)
}

func (w *propWorld) checkPin(desc, rev, env, svc string, p pin) {
	w.t.Helper()
	where := fmt.Sprintf("after %q: %s %s on %s", desc, env, svc, rev)
	if want := w.reg.Ref("acme/" + svc); p.repo != want {
		w.t.Errorf("%s: repository %q, want %q", where, p.repo, want)
		return
	}
	d := p.digest
	if d == "" {
		w.t.Errorf("%s: pinned by tag %q only (the seed and every promotion pin digests)", where, p.tag)
		return
	}
	pushed, ok := w.pushed[d]
	switch {
	case !ok:
		w.t.Errorf("%s: %s was not pushed by this test", where, p)
		return
	case pushed.repo != p.repo || pushed.tag != p.tag:
		w.t.Errorf("%s: %s pins the image pushed as %s", where, p, pushed)
		return
	}
	if !w.inRegOK[d] {
		r, err := name.ParseReference(p.repo+"@"+d, name.Insecure)
		if err == nil {
			_, err = remote.Head(r)
		}
		if err != nil {
			w.t.Errorf("%s: %s is not in the registry: %v", where, p, err)
			return
		}
		w.inRegOK[d] = true
	}
	if up := propUpstream[env]; up != "" && !w.ranOn[up][d] {
		w.t.Errorf("%s: %s was never pinned by %s on main", where, p, up)
	}
}

// foldMainHistory records, for every main commit not seen yet, the digests
// each environment pinned there.
func (w *propWorld) foldMainHistory() {
	w.t.Helper()
	for _, sha := range w.gh.Log(manifestRepo, "main") {
		if w.seenMain[sha] {
			continue
		}
		w.seenMain[sha] = true
		for _, env := range propEnvs {
			if w.ranOn[env] == nil {
				w.ranOn[env] = map[string]bool{}
			}
			for _, p := range w.pins(sha, env) {
				d := p.digest
				if d == "" {
					d = w.tagDigest[p.repo+":"+p.tag]
				}
				w.ranOn[env][d] = true
			}
		}
	}
}

// checkCommits checks every commit automator made since the last check:
// each environment file is its parent's (one of them) with only image
// values changed, and parses as YAML.
func (w *propWorld) checkCommits(desc string) {
	w.t.Helper()
	out, err := w.git("log", "--all", "--format=%H %ae %ce %P")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || w.checked[f[0]] { // the seed commit has no parent
			continue
		}
		w.checked[f[0]] = true
		sha, author, committer, parents := f[0], f[1], f[2], f[3:]
		if author == propHumanEmail || committer == "noreply@github.com" {
			continue // a human commit or a merge
		}
		for _, env := range propEnvs {
			text, ok := w.gh.ReadFile(manifestRepo, sha, propFile[env])
			if !ok {
				w.t.Errorf("after %q: automator's commit %s deleted %s", desc, sha[:12], propFile[env])
				continue
			}
			if _, err := parsePins(env, text); err != nil {
				w.t.Errorf("after %q: automator's commit %s: %s: %v\n%s", desc, sha[:12], propFile[env], err, text)
			}
			var skels []string
			for _, p := range parents {
				if pt, ok := w.gh.ReadFile(manifestRepo, p, propFile[env]); ok {
					skels = append(skels, skeleton(pt))
				}
			}
			if !slices.Contains(skels, skeleton(text)) {
				sort.Strings(skels)
				w.t.Errorf("after %q: automator's commit %s changed more than image values in %s:\n%s\nparents' skeletons:\n%s",
					desc, sha[:12], propFile[env], text, strings.Join(skels, "\n---\n"))
			}
		}
	}
}
