package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/deployment-automator/automator/e2e/harness"
)

// fanIn is a manifests repository whose dev (mode: commit) and staging
// (mode: pull-request) environments pin n services in one values file each,
// and an app directory configured for them: the fan-in of many app
// repositories' pipelines into one environment, or one monorepo's base-image
// bump that selects every service.
type fanIn struct {
	*cliWorld
	n int
}

func fanInService(i int) string { return fmt.Sprintf("svc%03d", i) }

func fanInDigest(i, round int) string {
	return fmt.Sprintf("sha256:%064x", uint64(round)<<32|uint64(i+1))
}

func newFanIn(t testing.TB, n int) *fanIn {
	t.Helper()
	harness.RequireBinary(t, "git")
	g := harness.StartGitHub(t)
	var values, cfg strings.Builder
	for i := range n {
		fmt.Fprintf(&values, "%s:\n  image:\n    repository: ghcr.io/acme/%s\n    tag: \"1.0.0\"\n    digest: %s\n", fanInService(i), fanInService(i), fanInDigest(i, 0))
	}
	dir := t.TempDir()
	g.CreateRepo("acme", "manifests", "main", seed(t, map[string]string{"envs/dev/values.yaml": values.String(), "envs/staging/values.yaml": values.String(), "README.md": "manifests\n"}))
	app := g.RegisterApp("automator", nil)
	g.InstallApp(app, "acme")
	key := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(key, app.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&cfg, "version: 1\nscan:\n  enabled: false\ngithub:\n  app: {id: %d, privateKeyFile: %s}\nenvironments:\n", app.ID, key)
	cfg.WriteString("  - {name: dev, repo: acme/manifests, files: [envs/dev/values.yaml], mode: commit}\n")
	cfg.WriteString("  - {name: staging, repo: acme/manifests, files: [envs/staging/values.yaml], mode: pull-request, pullRequest: {labels: [promotion]}}\nservices:\n")
	for i := range n {
		fmt.Fprintf(&cfg, "  - {name: %s, context: src/%s, image: ghcr.io/acme/%s}\n", fanInService(i), fanInService(i), fanInService(i))
		if err := os.MkdirAll(filepath.Join(dir, "src", fanInService(i)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "src", fanInService(i), "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "automator.yaml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	g.ResetRequests()
	return &fanIn{n: n, cliWorld: &cliWorld{world: &world{g: g, app: app}, dir: dir,
		env: map[string]string{"GITHUB_API_URL": g.APIURL, "GITHUB_SERVER_URL": g.URL, "AUTOMATOR_LOG_FORMAT": "json"}}}
}

// automatorTB runs the binary like cliWorld.automator, for tests and
// benchmarks; a benchmark needs $AUTOMATOR_BIN.
func (f *fanIn) automatorTB(t testing.TB, args ...string) (stdout, stderr string, code int, maxRSS int64) {
	bin := os.Getenv("AUTOMATOR_BIN")
	if tt, ok := t.(*testing.T); ok && bin == "" {
		bin = cliBinary(tt)
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("AUTOMATOR_BIN is required in CI (make test sets it)")
		}
		t.Skip("set AUTOMATOR_BIN to the built binary")
	}
	return runAutomator(t, bin, f.dir, f.env, args...)
}

// runAutomator runs bin in dir with this process's environment less its
// GITHUB_* and CI variables, plus env, and returns stdout, stderr, the exit
// code and the peak resident memory.
func runAutomator(t testing.TB, bin, dir string, env map[string]string, args ...string) (stdout, stderr string, code int, maxRSS int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "CI=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running automator %v: %v", args, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	return out.String(), errb.String(), code, maxRSS
}

// landing is one process's outcome.
type landing struct {
	took                 time.Duration
	code                 int
	args, stdout, stderr string
}

// promoteAll starts one `automator promote --env dev --set svcNNN=…` process
// per service at the same moment and returns their outcomes.
func (f *fanIn) promoteAll(t testing.TB, round int) []landing {
	t.Helper()
	out := make([]landing, f.n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range f.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ref := fmt.Sprintf("ghcr.io/acme/%s:1.%d.0@%s", fanInService(i), round, fanInDigest(i, round))
			began := time.Now()
			stdout, stderr, code, _ := f.automatorTB(t, "promote", "--env", "dev", "--set", fanInService(i)+"="+ref)
			out[i] = landing{took: time.Since(began), code: code, args: ref, stdout: stdout, stderr: stderr}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// checkLanded fails unless every process exited 0 and every service's new
// digest is on main, each in its own commit.
func (f *fanIn) checkLanded(t testing.TB, round int, ls []landing) []time.Duration {
	t.Helper()
	var took []time.Duration
	for i, l := range ls {
		if l.code != 0 {
			t.Errorf("process %d (%s): exit %d\nstderr:\n%s", i, l.args, l.code, l.stderr)
		}
		took = append(took, l.took)
	}
	values, _ := f.g.ReadFile(manifests, "main", "envs/dev/values.yaml")
	lost := 0
	for i := range f.n {
		if !strings.Contains(values, "digest: "+fanInDigest(i, round)) {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d promotions lost:\n%s", lost, f.n, values)
	}
	return took
}

// TestConcurrentPromoteFanIn: 20 `automator promote` processes into one
// commit-mode environment, started together, with 150 ms added to every
// GitHub API call: all 20 land (exit 0, every digest on main), none lost.
func TestConcurrentPromoteFanIn(t *testing.T) {
	f := newFanIn(t, 20)
	f.g.SetLatency(150 * time.Millisecond)
	began := time.Now()
	took := f.checkLanded(t, 1, f.promoteAll(t, 1))
	if n := len(f.g.Log(manifests, "main")); n != 21 {
		t.Errorf("main has %d commits, want the seed and one per process", n)
	}
	t.Logf("20 concurrent promotions at 150 ms per API call: all landed in %v; time to land p50 %v, p95 %v, max %v",
		time.Since(began).Round(time.Millisecond), percentile(took, .5).Round(time.Millisecond), percentile(took, .95).Round(time.Millisecond), percentile(took, 1).Round(time.Millisecond))
}

// BenchmarkPromoteFanIn20 reports the time for each of 20 concurrent
// promotions into one commit-mode environment to land, at 150 ms per API
// call: p50 and p95 over every process of every iteration.
func BenchmarkPromoteFanIn20(b *testing.B) {
	f := newFanIn(b, 20)
	f.g.SetLatency(150 * time.Millisecond)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		took = append(took, f.checkLanded(b, i+1, f.promoteAll(b, i+1))...)
	}
	b.ReportMetric(percentile(took, .5).Seconds(), "p50-s")
	b.ReportMetric(percentile(took, .95).Seconds(), "p95-s")
}

// promoteEvery promotes every service of env at round's digests in one
// `automator promote` process and returns its wall time, the GitHub API
// calls it made and its peak resident memory.
func (f *fanIn) promoteEvery(t testing.TB, env string, round int) (took time.Duration, calls int, maxRSS int64) {
	t.Helper()
	args := []string{"promote", "--env", env}
	for i := range f.n {
		args = append(args, "--set", fmt.Sprintf("%s=ghcr.io/acme/%s:1.%d.0@%s", fanInService(i), fanInService(i), round, fanInDigest(i, round)))
	}
	before := f.g.APICalls()
	began := time.Now()
	_, stderr, code, rss := f.automatorTB(t, args...)
	took = time.Since(began)
	if code != 0 {
		t.Fatalf("promote %d services into %s: exit %d\n%s", f.n, env, code, stderr)
	}
	return took, f.g.APICalls() - before, rss
}

// TestPromoteManyServices: one promotion of 500 services into a
// pull-request environment and into a commit environment lands as one pull
// request (title and body within GitHub's limits, which the fake enforces)
// and one commit, with every value changed, in a number of GitHub API calls
// that does not depend on the number of services.
func TestPromoteManyServices(t *testing.T) {
	f := newFanIn(t, 500)
	for _, env := range []string{"staging", "dev"} {
		took, calls, rss := f.promoteEvery(t, env, 1)
		t.Logf("%s: 500 services in %v, %d API calls, peak RSS %d MiB", env, took.Round(time.Millisecond), calls, rss>>20)
		if calls > 30 {
			t.Errorf("%s: %d API calls for one environment, want a count independent of the services (≤ 30)", env, calls)
		}
	}
	prs := f.g.PullRequests(manifests)
	if len(prs) != 1 || prs[0].Head != "automator/staging" {
		t.Fatalf("want one pull request on automator/staging, got %+v", prs)
	}
	pr := prs[0]
	if n, m := utf8.RuneCountInString(pr.Title), utf8.RuneCountInString(pr.Body); n > harness.MaxTitle || m > harness.MaxBody {
		t.Errorf("title %d / body %d characters: over GitHub's limits", n, m)
	}
	wantAll(t, "PR body", pr.Body, "Promotes 500 image(s) to **staging**", "**svc000**", "/compare/main...automator/staging")
	for ref, path := range map[string]string{"automator/staging": "envs/staging/values.yaml", "main": "envs/dev/values.yaml"} {
		values, _ := f.g.ReadFile(manifests, ref, path)
		for i := range f.n {
			if !strings.Contains(values, "digest: "+fanInDigest(i, 1)) {
				t.Fatalf("%s at %s: %s not promoted", path, ref, fanInService(i))
			}
		}
	}
	if n := len(f.g.Log(manifests, "main")); n != 2 {
		t.Errorf("main has %d commits, want the seed and one promotion", n)
	}
}

// BenchmarkPromoteManyServices reports, for 100, 500 and 2,000 services
// promoted at once (no builds) into a pull-request environment, the time of
// one `automator promote`, its GitHub API calls and its peak memory.
func BenchmarkPromoteManyServices(b *testing.B) {
	for _, n := range []int{100, 500, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			f := newFanIn(b, n)
			var calls int
			var rss int64
			b.ResetTimer()
			for i := range b.N {
				_, c, r := f.promoteEvery(b, "staging", i+1)
				calls, rss = max(calls, c), max(rss, r)
			}
			b.ReportMetric(float64(calls), "api-calls/op")
			b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
		})
	}
}
