package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/watch"
)

// BenchmarkWatchCycle1000x200 polls 1,000 repositories of 200 tags each on
// the real local registry. Seeding pushes one image through the API, then
// writes the other repositories' tag links straight into the registry's
// filesystem storage (the same bytes distribution writes for a manifest PUT
// of an existing manifest), which keeps seeding to seconds.
//
// Reported: seconds per steady-state cycle, registry requests per cycle,
// cold-cycle seconds (first cycle: auth and a ping per repository), and peak
// heap in use during the cycles.
func BenchmarkWatchCycle1000x200(b *testing.B) {
	const repos, tags = 1000, 200
	reg := harness.StartRegistry(b)
	seed := &watchWorld{reg: reg}
	digest := seed.push(b, "seed/base", "1.0.0")
	hex := digest[len("sha256:"):]
	root := filepath.Join(reg.StorageDir, "docker", "registry", "v2", "repositories")
	seedLayers, err := os.ReadDir(filepath.Join(root, "seed", "base", "_layers", "sha256"))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	link := []byte(digest)
	write := func(p string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var rules []config.WatchRule
	man := newManifestsRepo()
	for i := range repos {
		repo := fmt.Sprintf("bench/r%04d", i)
		dir := filepath.Join(root, filepath.FromSlash(repo))
		for _, l := range seedLayers {
			write(filepath.Join(dir, "_layers", "sha256", l.Name(), "link"), []byte("sha256:"+l.Name()))
		}
		write(filepath.Join(dir, "_manifests", "revisions", "sha256", hex, "link"), link)
		for j := range tags {
			tdir := filepath.Join(dir, "_manifests", "tags", fmt.Sprintf("1.%d.%d", j/20, j%20))
			write(filepath.Join(tdir, "current", "link"), link)
			write(filepath.Join(tdir, "index", "sha256", hex, "link"), link)
		}
		r := rule(fmt.Sprintf("r%04d", i), reg.Ref(repo), "*", "prod")
		rules = append(rules, r)
		man.pin("prod", r.Image, fmt.Sprintf("1.%d.%d", (tags-1)/20, (tags-1)%20), digest)
	}
	b.Logf("seeded %d repositories × %d tags in %s", repos, tags, time.Since(start).Round(time.Millisecond))

	m, err := watch.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	rr, err := registry.New(registry.WithRequestObserver(m.ObserveRegistryRequest), registry.WithDefaultRPS(100000))
	if err != nil {
		b.Fatal(err)
	}
	w, err := watch.New(&config.Watch{Interval: "1h", Concurrency: 8, MaxTags: 10000, Rules: rules}, rr, man, man)
	if err != nil {
		b.Fatal(err)
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	reg.ResetRequests()
	cold := time.Now()
	if _, err := w.RunOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	coldSecs := time.Since(cold).Seconds()
	coldReqs := len(reg.Requests())
	reg.ResetRequests()
	b.ResetTimer()
	for range b.N {
		if _, err := w.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	if n := len(man.landed()); n != 0 {
		b.Fatalf("%d promotions in steady state", n)
	}
	perCycle := float64(len(reg.Requests())) / float64(b.N)
	manifests := reg.Count("", harness.KindManifest)
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/cycle")
	b.ReportMetric(perCycle, "requests/cycle")
	b.ReportMetric(float64(manifests)/float64(b.N), "manifest-requests/cycle")
	b.ReportMetric(coldSecs, "cold-s")
	b.ReportMetric(float64(coldReqs), "cold-requests")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
