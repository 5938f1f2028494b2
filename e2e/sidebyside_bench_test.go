package e2e_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// A sideBySide row is one piece of work done by automator and by the tools
// users would use instead, each as a whole process (start-up, reading,
// writing and exit included), run alternately so a machine slowing down
// or speeding up affects every tool alike.
type sideBySide struct {
	work string
	// tools[0] is automator; a tool whose binary is missing is left out.
	tools []tool
	// prepare runs before every run of every tool, untimed (restore the
	// files a rewrite changed, start a fresh destination registry).
	prepare func(tb testing.TB, run int)
}

// tool is one way to do a row's work: the commands run one after the other
// (a loop of yq processes is several), timed together.
type tool struct {
	name string
	bin  string
	cmds func(run int) [][]string
	dir  string
	env  map[string]string // added to this process's environment
}

// sample is one timed run: wall time, CPU time of the processes (user +
// system, from wait4) and the largest peak RSS among them (GNU time's %M).
type sample struct {
	wall, cpu time.Duration
	rss       int64 // bytes
}

// medians of a tool's samples, each measure on its own.
func medians(s []sample) sample {
	pick := func(f func(sample) int64) int64 {
		v := make([]int64, len(s))
		for i := range s {
			v[i] = f(s[i])
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return sample{
		wall: time.Duration(pick(func(x sample) int64 { return int64(x.wall) })),
		cpu:  time.Duration(pick(func(x sample) int64 { return int64(x.cpu) })),
		rss:  pick(func(x sample) int64 { return x.rss }),
	}
}

func (t tool) run(tb testing.TB, run int) sample {
	tb.Helper()
	var s sample
	// Peak RSS comes from GNU time, which forks a small process to exec the
	// tool: wait4 on a child of this (large) test process would count the
	// pages it shares with us between vfork and exec.
	rssFile := filepath.Join(tb.TempDir(), "rss")
	for _, args := range t.cmds(run) {
		cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, t.bin}, args...)...)
		cmd.Dir = t.dir
		cmd.Env = append(os.Environ(), "NO_COLOR=1")
		for k, v := range t.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		s.wall += time.Since(start)
		if err != nil {
			tb.Fatalf("%s %.200s: %v\n%s", t.name, strings.Join(args, " "), err, tail(out.String(), 10))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage) // includes the tool, which time waited for
		s.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		var kib int64
		if raw, err := os.ReadFile(rssFile); err != nil {
			tb.Fatal(err)
		} else if _, err := fmt.Sscan(string(raw), &kib); err != nil {
			tb.Fatalf("GNU time wrote %q: %v", raw, err)
		}
		s.rss = max(s.rss, kib<<10)
	}
	return s
}

// shortRow is the wall time under which a row's runs are tripled: a median
// of 7 samples of ~50–100 ms processes moves by ±10% from one make bench to
// the next on a shared 2-core VM, enough to flip a ratio near 1.
const shortRow = 500 * time.Millisecond

// measure runs every tool of r runs times (three times as many when the
// first round took under shortRow for every tool), alternating (the order
// rotates each round), and returns the medians in r.tools' order and the
// number of runs.
func (r sideBySide) measure(tb testing.TB, runs int) ([]sample, int) {
	tb.Helper()
	all := make([][]sample, len(r.tools))
	for i := 0; i < runs; i++ {
		if i == 1 && runs > 1 && slices.IndexFunc(all, func(s []sample) bool { return s[0].wall >= shortRow }) < 0 {
			runs *= 3
		}
		for k := range r.tools {
			j := (i + k) % len(r.tools)
			if r.prepare != nil {
				r.prepare(tb, i)
			}
			all[j] = append(all[j], r.tools[j].run(tb, i))
		}
	}
	out := make([]sample, len(r.tools))
	for j := range all {
		out[j] = medians(all[j])
	}
	return out, runs
}

func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// BenchmarkSideBySide is `make bench`'s table: each row is one piece of
// work done by the built binary ($AUTOMATOR_BIN) and by yq, kustomize,
// crane, skopeo and the Trivy CLI where they do the same, all as whole
// processes, alternating, with the median wall time (and peak RSS; CPU
// time for automator) and automator's time as a ratio of each peer's. Processes
// run under /usr/bin/time (GNU time) for their peak RSS. Peers are
// found on PATH (`make bench` puts bin/tools first); a missing peer leaves
// its cell empty. AUTOMATOR_BENCH_RUNS sets the runs per tool (default 7;
// tripled for short rows, see shortRow).
//
//	AUTOMATOR_BIN=$PWD/bin/automator PATH=$PWD/bin/tools:$PATH \
//	  go test ./e2e -run '^$' -bench SideBySide -benchtime 1x
func BenchmarkSideBySide(b *testing.B) {
	bin := os.Getenv("AUTOMATOR_BIN")
	if bin == "" {
		b.Fatal("AUTOMATOR_BIN is not set: the table compares the built binary (make build)")
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Fatalf("GNU time measures peak RSS: %v", err)
	}
	runs := 7
	if v := os.Getenv("AUTOMATOR_BENCH_RUNS"); v != "" {
		fmt.Sscan(v, &runs)
	}
	peer := func(name string) string {
		p, err := exec.LookPath(name)
		if err != nil {
			b.Logf("%s not found on PATH: its cells stay empty", name)
			return ""
		}
		return p
	}
	yq, kust, crane, skopeo, trivy := peer("yq"), peer("kustomize"), peer("crane"), peer("skopeo"), peer("trivy")
	if out, _ := exec.Command(yq, "--version").CombinedOutput(); yq != "" && !strings.Contains(string(out), "mikefarah") {
		b.Logf("%s is not mikefarah/yq v4 (%s): left out", yq, bytes.TrimSpace(out))
		yq = ""
	}
	var rows []sideBySide
	rows = append(rows, sideBySide{work: "start-up: print the version and exit", tools: []tool{
		{name: "automator", bin: bin, cmds: once("version")},
		{name: "yq", bin: yq, cmds: once("--version")},
		{name: "kustomize", bin: kust, cmds: once("version")},
		{name: "crane", bin: crane, cmds: once("version")},
		{name: "skopeo", bin: skopeo, cmds: once("--version")},
		{name: "trivy", bin: trivy, cmds: once("--version")},
	}})
	rows = append(rows, rewriteRows(b, bin, yq, kust)...)
	rows = append(rows, commandRows(b, bin)...)
	rows = append(rows, copyRows(b, bin, crane, skopeo)...)
	rows = append(rows, scanRow(b, bin, trivy))

	for range b.N {
		// Row by row, so a long run shows its progress.
		fmt.Print("\n| work (whole processes, alternating; median of " + fmt.Sprint(runs) + " runs, " + fmt.Sprint(3*runs) + " for rows under " + fmt.Sprint(shortRow) + ") | automator | peers | ratio |\n|---|---|---|---|\n")
		for _, r := range rows {
			var present []tool
			for _, t := range r.tools {
				if t.bin != "" {
					present = append(present, t)
				}
			}
			r.tools = present
			m, n := r.measure(b, runs)
			a := m[0]
			var peers, ratios []string
			for j, t := range r.tools[1:] {
				p := m[j+1]
				peers = append(peers, fmt.Sprintf("%s %s (%s)", t.name, ms(p.wall), mib(p.rss)))
				ratios = append(ratios, fmt.Sprintf("%.2f× %s", float64(a.wall)/float64(p.wall), t.name))
			}
			fmt.Printf("| %s (%d runs) | %s (CPU %s, peak RSS %s) | %s | %s |\n", r.work, n, ms(a.wall), ms(a.cpu), mib(a.rss),
				orDash(strings.Join(peers, ", ")), orDash(strings.Join(ratios, ", ")))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// corpusDir is the shared real-world corpus (AUTOMATOR_CORPUS overrides it).
func corpusDir(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv("AUTOMATOR_CORPUS")
	if d == "" {
		d = "../../shared/corpus"
	}
	if _, err := os.Stat(filepath.Join(d, "INDEX.md")); err != nil {
		tb.Fatalf("corpus not found at %s (set AUTOMATOR_CORPUS): %v", d, err)
	}
	return d
}

// restore writes the original files back before each run of a rewrite.
func restore(files map[string][]byte) func(testing.TB, int) {
	return func(tb testing.TB, _ int) {
		for p, data := range files {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// stage copies corpus files into a scratch directory under the given names
// and returns their originals by scratch path.
func stage(tb testing.TB, corpus, dir string, names map[string]string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	for rel, as := range names {
		data, err := os.ReadFile(filepath.Join(corpus, rel))
		if err != nil {
			tb.Fatal(err)
		}
		p := filepath.Join(dir, as)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		files[p] = data
	}
	return files
}

// batchUpdates are images the corpus's values files pin (those of the
// rewrite package's corpus benchmark that a values file holds: automator
// fails a --set no file references), as automator --set arguments and as
// one yq expression that sets the tag of every map whose repository is the
// image.
var batchUpdates = [][2]string{
	{"ghcr.io/stefanprodan/podinfo", "6.15.0"},
	{"redis", "8.8.1"},
	{"docker.io/bitnami/nginx", "1.29.2-debian-12-r0"},
	{"busybox", "1.38.1"},
	{"ghcr.io/azure-samples/aks-store-demo/store-front", "2.1.0"},
	{"otel/opentelemetry-collector-k8s", "0.132.0"},
}

func rewriteRows(b *testing.B, bin, yq, kust string) []sideBySide {
	corpus := corpusDir(b)
	var rows []sideBySide

	// One Helm values file.
	dir := b.TempDir()
	files := stage(b, corpus, dir, map[string]string{"stefanprodan__podinfo/charts/podinfo/values.yaml": "values.yaml"})
	rows = append(rows, sideBySide{work: "set one image tag in podinfo's values.yaml", prepare: restore(files), tools: []tool{
		{name: "automator", bin: bin, dir: dir, cmds: func(int) [][]string {
			return [][]string{{"rewrite", "values.yaml", "--set", "ghcr.io/stefanprodan/podinfo=6.15.0"}}
		}},
		{name: "yq", bin: yq, dir: dir, cmds: func(int) [][]string { return [][]string{{"-i", `.image.tag = "6.15.0"`, "values.yaml"}} }},
	}})

	// One kustomization.
	dir = b.TempDir()
	files = stage(b, corpus, dir, map[string]string{"bespinian__argocd-demo/env/int/kustomization.yml": "kustomization.yml"})
	rows = append(rows, sideBySide{work: "set one image in a kustomization", prepare: restore(files), tools: []tool{
		{name: "automator", bin: bin, dir: dir, cmds: func(int) [][]string {
			return [][]string{{"rewrite", "kustomization.yml", "--set", "bespinian/awesome-image=2.1.0"}}
		}},
		{name: "kustomize", bin: kust, dir: dir, cmds: func(int) [][]string {
			return [][]string{{"edit", "set", "image", "bespinian/awesome-image=bespinian/awesome-image:2.1.0"}}
		}},
		{name: "yq", bin: yq, dir: dir, cmds: func(int) [][]string {
			return [][]string{{"-i", `(.images[] | select(.name == "bespinian/awesome-image")).newTag = "2.1.0"`, "kustomization.yml"}}
		}},
	}})

	// Every values file of the corpus: one automator call against a yq -i loop.
	dir = b.TempDir()
	names := map[string]string{}
	err := filepath.WalkDir(corpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := filepath.Base(p)
		if !strings.HasPrefix(base, "values") || (filepath.Ext(base) != ".yaml" && filepath.Ext(base) != ".yml") {
			return nil
		}
		if slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "templates") {
			return nil
		}
		rel, _ := filepath.Rel(corpus, p)
		names[rel] = rel
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	files = stage(b, corpus, dir, names)
	var paths []string
	for rel := range names {
		paths = append(paths, rel)
	}
	slices.Sort(paths)
	automatorArgs := append([]string{"rewrite"}, paths...)
	var yqExpr []string
	for _, u := range batchUpdates {
		automatorArgs = append(automatorArgs, "--set", u[0]+"="+u[1])
		yqExpr = append(yqExpr, fmt.Sprintf(`(.. | select(tag == "!!map" and .repository == %q)).tag = %q`, u[0], u[1]))
	}
	rows = append(rows, sideBySide{work: fmt.Sprintf("set 6 images in every values file of the corpus (%d files): one automator call, a yq -i loop", len(paths)),
		prepare: restore(files), tools: []tool{
			{name: "automator", bin: bin, dir: dir, cmds: func(int) [][]string { return [][]string{automatorArgs} }},
			{name: "yq loop", bin: yq, dir: dir, cmds: func(int) [][]string {
				var cmds [][]string
				for _, p := range paths {
					cmds = append(cmds, []string{"-i", strings.Join(yqExpr, " | "), p})
				}
				return cmds
			}},
		}})
	return rows
}

// commandRows times automator's own short commands that have no peer:
// plan on the sample monorepo and promote --dry-run against the GitHub
// fake and a real registry (scanning off: this is the process, not Trivy).
func commandRows(b *testing.B, bin string) []sideBySide {
	reg := harness.StartRegistry(b)
	gh := harness.StartGitHub(b)
	img, err := random.Image(1024, 1)
	if err != nil {
		b.Fatal(err)
	}
	ref, _ := name.ParseReference(reg.DirectHost + "/acme/frontend:0.2.0")
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	digest, _ := img.Digest()

	manifests := b.TempDir()
	if err := os.CopyFS(manifests, os.DirFS("../testdata/demo/manifests")); err != nil {
		b.Fatal(err)
	}
	_ = filepath.WalkDir(manifests, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			raw, _ := os.ReadFile(p)
			_ = os.WriteFile(p, bytes.ReplaceAll(raw, []byte("REGISTRY"), []byte(reg.Host)), 0o644)
		}
		return err
	})
	gh.CreateRepo("acme", "manifests", "main", manifests)

	app := harness.NewGitRepo(b, b.TempDir())
	app.CopyDir("../testdata/demo/app", ".")
	cfg := app.ReadFile(".github/automator.yaml")
	cfg = strings.ReplaceAll(cfg, "MANIFESTS", manifestRepo)
	cfg = strings.ReplaceAll(cfg, "REGISTRY", reg.Host)
	cfg = strings.Replace(cfg, "scan:\n", "scan:\n  enabled: false\n", 1)
	app.WriteFile(".github/automator.yaml", cfg)
	base := app.Commit("initial import")
	app.WriteFile("libs/common/common.txt", "shared library v2\n")
	head := app.Commit("common: faster cache")

	return []sideBySide{
		{work: "plan: which services a commit changes (sample monorepo)", tools: []tool{
			{name: "automator", bin: bin, dir: app.Dir, cmds: once("plan", "--base", base, "--head", head)}}},
		{work: "promote --dry-run of one image into dev (GitHub fake, real registry)", tools: []tool{
			{name: "automator", bin: bin, dir: app.Dir, env: gh.Env(manifestRepo),
				cmds: once("promote", "--env", "dev", "--dry-run", "--set", "frontend="+reg.Host+"/acme/frontend:0.2.0@"+digest.String())}}},
	}
}

// once is a tool's commands when one process does the work.
func once(args ...string) func(int) [][]string {
	return func(int) [][]string { return [][]string{args} }
}

// copyRows copy an image of 5 layers × 20 MB between two real registries
// with automator copy, crane copy and skopeo copy: into a repository that
// already holds it (a new tag: warm), into a new repository of a registry
// that holds the blobs elsewhere, and into a fresh registry (cold).
func copyRows(b *testing.B, bin, crane, skopeo string) []sideBySide {
	src := harness.StartRegistry(b)
	img, err := random.Image(20<<20, 5)
	if err != nil {
		b.Fatal(err)
	}
	srcRef := src.DirectHost + "/bench/app:1.0.0"
	ref, _ := name.ParseReference(srcRef)
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	warm := harness.StartRegistry(b)
	ref, _ = name.ParseReference(warm.DirectHost + "/bench/app:1.0.0")
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	tools := func(dst func(tool string, run int) string) []tool {
		return []tool{
			{name: "automator", bin: bin, cmds: func(run int) [][]string {
				return [][]string{{"copy", srcRef, dst("automator", run)}}
			}},
			{name: "crane", bin: crane, cmds: func(run int) [][]string {
				return [][]string{{"copy", "--insecure", srcRef, dst("crane", run)}}
			}},
			{name: "skopeo", bin: skopeo, cmds: func(run int) [][]string {
				return [][]string{{"copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
					"docker://" + srcRef, "docker://" + dst("skopeo", run)}}
			}},
		}
	}
	var cold string
	return []sideBySide{
		{work: "copy 5 × 20 MB, destination repository already has the blobs (new tag)", tools: tools(func(t string, run int) string {
			return fmt.Sprintf("%s/bench/app:%s-%d", warm.DirectHost, t, run)
		})},
		{work: "copy 5 × 20 MB into a new repository of a registry that holds the blobs", tools: tools(func(t string, run int) string {
			return fmt.Sprintf("%s/bench/%s-%d:1.0.0", warm.DirectHost, t, run)
		})},
		{work: "copy 5 × 20 MB, cold (fresh destination registry)", tools: tools(func(string, int) string {
			return cold + "/bench/app:1.0.0"
		}), prepare: func(tb testing.TB, _ int) { cold = harness.StartRegistry(tb).DirectHost }},
	}
}

// scanRow scans one OCI layout (an Alpine-like image with OS, Go and npm
// packages) against the fixture DB with automator scan, whose automator-scan
// process runs Trivy as a library, and with the Trivy CLI, each with its own
// copy of the DB and a layer cache the first run warms.
func scanRow(b *testing.B, bin, trivy string) sideBySide {
	layout, _ := scantest.Layout(b, scantest.Fixed, "cart:fixed")
	ours := scantest.NewDB(b, scantest.FreshDB(time.Now()))
	theirs := b.TempDir()
	if err := os.CopyFS(filepath.Join(theirs, "db"), os.DirFS(filepath.Join(ours, "db"))); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir() // no automator.yaml: a one-off scan
	return sideBySide{work: "scan one image (OCI layout, fixture DB, warm layer cache), JSON report", tools: []tool{
		{name: "automator", bin: bin, dir: dir, cmds: once("scan", "--oci-layout", layout, "--cache-dir", ours, "--offline", "--format", "json")},
		{name: "trivy", bin: trivy, dir: dir, env: map[string]string{"TRIVY_NO_PROGRESS": "true", "TRIVY_DISABLE_VEX_NOTICE": "true"},
			cmds: once("image", "--cache-dir", theirs, "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--scanners", "vuln",
				"--quiet", "--format", "json", "--input", layout)},
	}}
}
