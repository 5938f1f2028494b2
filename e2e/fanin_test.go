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
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// fanIn is a manifests repository whose dev environment (mode: commit) pins
// n services in one values file, and an app directory configured for them:
// the fan-in of many app repositories' pipelines into one environment.
type fanIn struct {
	*cliWorld
	n int
}

func fanInService(i int) string { return fmt.Sprintf("svc%03d", i) }

func fanInDigest(i, round int) string {
	return fmt.Sprintf("sha256:%064x", uint64(round)<<32|uint64(i+1))
}

func newFanIn(t testing.TB, n int, mode string) *fanIn {
	t.Helper()
	harness.RequireBinary(t, "git")
	g := harness.StartGitHub(t)
	var values, cfg strings.Builder
	for i := range n {
		fmt.Fprintf(&values, "%s:\n  image:\n    repository: ghcr.io/acme/%s\n    tag: \"1.0.0\"\n    digest: %s\n", fanInService(i), fanInService(i), fanInDigest(i, 0))
	}
	dir := tempDir(t)
	g.CreateRepo("acme", "manifests", "main", seedTB(t, map[string]string{"envs/dev/values.yaml": values.String(), "README.md": "manifests\n"}))
	app := g.RegisterApp("automator", nil)
	g.InstallApp(app, "acme")
	key := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(key, app.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&cfg, "version: 1\nscan:\n  enabled: false\ngithub:\n  app: {id: %d, privateKeyFile: %s}\nenvironments:\n", app.ID, key)
	fmt.Fprintf(&cfg, "  - {name: dev, repo: acme/manifests, files: [envs/dev/values.yaml], mode: %s}\nservices:\n", mode)
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

func tempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "automator-fanin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func seedTB(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := tempDir(t)
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// automatorTB runs the binary like cliWorld.automator, for tests and
// benchmarks; a benchmark needs $AUTOMATOR_BIN.
func (f *fanIn) automatorTB(t testing.TB, args ...string) (stdout, stderr string, code int) {
	bin := os.Getenv("AUTOMATOR_BIN")
	if tt, ok := t.(*testing.T); ok && bin == "" {
		bin = cliBinary(tt)
	}
	if bin == "" {
		t.Skip("set AUTOMATOR_BIN to the built binary")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = f.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "CI=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range f.env {
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
		t.Errorf("running automator %v: %v", args, err)
		code = -1
	}
	return out.String(), errb.String(), code
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
			stdout, stderr, code := f.automatorTB(t, "promote", "--env", "dev", "--set", fanInService(i)+"="+ref)
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
	f := newFanIn(t, 20, "commit")
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
	f := newFanIn(b, 20, "commit")
	f.g.SetLatency(150 * time.Millisecond)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		took = append(took, f.checkLanded(b, i+1, f.promoteAll(b, i+1))...)
	}
	b.ReportMetric(percentile(took, .5).Seconds(), "p50-s")
	b.ReportMetric(percentile(took, .95).Seconds(), "p95-s")
}
