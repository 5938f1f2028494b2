package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/registry"
)

// copyCase is one scenario of the side-by-side copy comparison. Prepare runs untimed before each
// timed copy and returns the source, the destination and holder: a repository of the destination's
// registry known to hold the blobs ("" when none), which automator is told (--mount-from, as promote
// tells it the same service's other environments) and skopeo knows from its blob-info cache.
type copyCase struct {
	Name    string
	Prepare func(tb testing.TB, round int, tool string) (src, dst, holder string)
}

// copyTool copies src to dst once: a whole process, or automator's registry client in-process.
type copyTool struct {
	Name string
	Copy func(tb testing.TB, src, dst, holder string)
}

// copyMedian is the median wall time of one tool on one case over the rounds.
type copyMedian struct {
	Case, Tool string
	Median     time.Duration
	Runs       int
}

// runCopySideBySide runs every case rounds times. Within a round each case's tools take turns, in an
// order rotated every round so that no tool always copies first (or right after a given other), and
// only the copy itself is timed. It returns the median per case and tool, in case then tool order.
func runCopySideBySide(tb testing.TB, rounds int, cases []copyCase, tools []copyTool) []copyMedian {
	tb.Helper()
	times := map[[2]string][]time.Duration{}
	for round := range rounds {
		for _, c := range cases {
			for i := range tools {
				tool := tools[(i+round)%len(tools)]
				src, dst, holder := c.Prepare(tb, round, tool.Name)
				start := time.Now()
				tool.Copy(tb, src, dst, holder)
				k := [2]string{c.Name, tool.Name}
				times[k] = append(times[k], time.Since(start))
			}
		}
	}
	var out []copyMedian
	for _, c := range cases {
		for _, tool := range tools {
			ts := times[[2]string{c.Name, tool.Name}]
			out = append(out, copyMedian{Case: c.Name, Tool: tool.Name, Median: median(ts), Runs: len(ts)})
		}
	}
	return out
}

func median(ts []time.Duration) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// copyCompareTable formats medians as a markdown table: one row per case, one column per tool, and
// the ratio of the first tool to each peer (other tools whose name does not start with the first's).
func copyCompareTable(ms []copyMedian) string {
	var cases, tools []string
	med := map[[2]string]time.Duration{}
	for _, m := range ms {
		if !slices.Contains(cases, m.Case) {
			cases = append(cases, m.Case)
		}
		if !slices.Contains(tools, m.Tool) {
			tools = append(tools, m.Tool)
		}
		med[[2]string{m.Case, m.Tool}] = m.Median
	}
	var peers []string
	for _, t := range tools[1:] {
		if !strings.HasPrefix(t, tools[0]) {
			peers = append(peers, t)
		}
	}
	var b strings.Builder
	b.WriteString("| case | " + strings.Join(tools, " | "))
	for _, p := range peers {
		fmt.Fprintf(&b, " | %s / %s", tools[0], p)
	}
	b.WriteString(" |\n|---" + strings.Repeat("|---", len(tools)+len(peers)) + "|\n")
	for _, c := range cases {
		b.WriteString("| " + c)
		for _, t := range tools {
			fmt.Fprintf(&b, " | %.3f s", med[[2]string{c, t}].Seconds())
		}
		for _, p := range peers {
			fmt.Fprintf(&b, " | %.2f×", med[[2]string{c, tools[0]}].Seconds()/med[[2]string{c, p}].Seconds())
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

// copyComparison is the fixture of the side-by-side copy comparison: a source registry holding an
// image of 5 layers × 20 MB (bench/app:1.0.0) and a destination registry already holding the same
// blobs in staging/app (copied there by skopeo, so that skopeo's blob-info cache knows it, as it
// would after any earlier skopeo copy).
type copyComparison struct {
	Src, Held *harness.Registry
	// Image is the source image reference.
	Image string
	// Bytes is the image's compressed layer size.
	Bytes int64
}

// newCopyComparison starts the registries and seeds them.
func newCopyComparison(tb testing.TB, skopeo string) *copyComparison {
	tb.Helper()
	f := &copyComparison{Src: harness.StartRegistry(tb), Held: harness.StartRegistry(tb)}
	img, err := random.Image(20<<20, 5)
	if err != nil {
		tb.Fatal(err)
	}
	f.Image = f.Src.DirectHost + "/bench/app:1.0.0"
	ref, _ := name.ParseReference(f.Image)
	if err := remote.Write(ref, img); err != nil {
		tb.Fatal(err)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		n, _ := l.Size()
		f.Bytes += n
	}
	skopeoCopy(tb, skopeo, f.Image, f.Held.DirectHost+"/staging/app:1.0.0")
	return f
}

// Cases are the three copies issue 16 sets targets for: warm (the destination repository holds the
// blobs; a new tag), a new repository in a registry holding the blobs in another repository, and
// cold (a fresh registry, started untimed for every copy).
func (f *copyComparison) Cases() []copyCase {
	slug := func(tool string) string { return strings.ReplaceAll(tool, " ", "-") }
	return []copyCase{
		{"warm: destination holds the blobs, new tag", func(_ testing.TB, round int, tool string) (string, string, string) {
			return f.Image, fmt.Sprintf("%s/staging/app:warm-%d-%s", f.Held.DirectHost, round, slug(tool)), ""
		}},
		{"new repository, registry holds the blobs", func(_ testing.TB, round int, tool string) (string, string, string) {
			return f.Image, fmt.Sprintf("%s/new-%d-%s/app:1.0.0", f.Held.DirectHost, round, slug(tool)), f.Held.DirectHost + "/staging/app"
		}},
		{"cold: empty registry", func(tb testing.TB, _ int, _ string) (string, string, string) {
			return f.Image, harness.StartRegistry(tb).DirectHost + "/bench/app:1.0.0", ""
		}},
	}
}

// copyTools are automator as a process (bin copy), automator's registry client in-process (a fresh
// Client per copy, as a new process has; requests counted into reqs), crane and skopeo.
func copyTools(bin, crane, skopeo string, reqs *atomic.Int64) []copyTool {
	run := func(tb testing.TB, argv ...string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = os.TempDir() // no automator config file in reach
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return []copyTool{
		{"automator", func(tb testing.TB, src, dst, holder string) {
			argv := []string{bin, "copy", src, dst}
			if holder != "" {
				argv = append(argv, "--mount-from", holder)
			}
			run(tb, argv...)
		}},
		{"automator in-process", func(tb testing.TB, src, dst, holder string) {
			c, err := registry.New(registry.WithRequestObserver(func(*http.Request, *http.Response, error) { reqs.Add(1) }))
			if err != nil {
				tb.Fatal(err)
			}
			var opts []registry.CopyOption
			if holder != "" {
				opts = append(opts, registry.MountFrom(holder))
			}
			if _, err := c.Copy(context.Background(), src, dst, false, opts...); err != nil {
				tb.Fatal(err)
			}
		}},
		{"crane", func(tb testing.TB, src, dst, _ string) { run(tb, crane, "copy", "--insecure", src, dst) }},
		{"skopeo", func(tb testing.TB, src, dst, _ string) { skopeoCopy(tb, skopeo, src, dst) }},
	}
}

func skopeoCopy(tb testing.TB, skopeo, src, dst string) {
	tb.Helper()
	out, err := exec.Command(skopeo, "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+src, "docker://"+dst).CombinedOutput()
	if err != nil {
		tb.Fatalf("skopeo copy: %v\n%s", err, out)
	}
}

// BenchmarkCopySideBySide times automator (whole process and in-process), crane and skopeo on the
// three copies of issue 16, alternating, and logs a table of medians with ratios; the medians are
// also reported as metrics. Each benchmark iteration is COPY_ROUNDS rounds (default 5) of every case
// and tool. Needs crane and skopeo on PATH, and $AUTOMATOR_BIN for the whole-process column (without
// it, outside CI, automator is timed in-process only).
//
//	AUTOMATOR_BIN=$PWD/bin/automator go test ./e2e -run '^$' -bench CopySideBySide -benchtime 1x
func BenchmarkCopySideBySide(b *testing.B) {
	bin := os.Getenv("AUTOMATOR_BIN")
	if bin == "" && os.Getenv("CI") != "" {
		b.Fatal("AUTOMATOR_BIN is required in CI")
	}
	crane := harness.RequireBinary(b, "crane")
	skopeo := harness.RequireBinary(b, "skopeo")
	rounds := 5
	if s := os.Getenv("COPY_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("COPY_ROUNDS=%q: want a positive number", s)
		}
		rounds = n
	}
	f := newCopyComparison(b, skopeo)
	var reqs atomic.Int64
	tools := copyTools(bin, crane, skopeo, &reqs)
	if bin == "" {
		b.Log("AUTOMATOR_BIN is not set: automator is timed in-process only")
		tools = tools[1:]
	}
	for range b.N {
		reqs.Store(0)
		ms := runCopySideBySide(b, rounds, f.Cases(), tools)
		b.Logf("copy of %d MB, medians of %d rounds:\n%s", f.Bytes>>20, rounds, copyCompareTable(ms))
		b.Logf("automator in-process: %.1f registry requests per copy", float64(reqs.Load())/float64(rounds*len(f.Cases())))
		var starts []time.Duration
		for range rounds {
			if bin == "" {
				break
			}
			start := time.Now()
			if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
				b.Fatalf("automator version: %v\n%s", err, out)
			}
			starts = append(starts, time.Since(start))
		}
		if bin != "" {
			b.Logf("automator process start-up and exit (automator version), median: %.3f s", median(starts).Seconds())
		}
		for i, m := range ms {
			b.ReportMetric(m.Median.Seconds(), fmt.Sprintf("s/case%d-%s", i/len(tools), strings.ReplaceAll(m.Tool, " ", "-")))
		}
	}
}
