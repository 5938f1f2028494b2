package e2e_test

import (
	"context"
	"fmt"
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
	seed := newTagSeeder(b, reg)
	digest := seed.digest
	start := time.Now()
	var names []string
	for j := range tags {
		names = append(names, fmt.Sprintf("1.%d.%d", j/20, j%20))
	}
	var rules []config.WatchRule
	man := newManifestsRepo()
	for i := range repos {
		repo := fmt.Sprintf("bench/r%04d", i)
		seed.tag(repo, names)
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

	stopHeap := sampleHeap(20*time.Millisecond, nil)
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
	peak := stopHeap()
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
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
