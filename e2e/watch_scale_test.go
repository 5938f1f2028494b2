package e2e_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/watch"
)

// TestWatch10000Tags: one repository with 10,000 tags on the real registry, listed in its
// lexical order, in which the newest version (10.0.0) is neither first nor last. One watch cycle
// promotes exactly that tag; the log reports time, requests and peak heap next to the pages a full
// listing needs.
func TestWatch10000Tags(t *testing.T) {
	const tags = 10000
	reg := harness.StartRegistry(t)
	seed := newTagSeeder(t, reg)
	digest := seed.digest
	var names []string
	for j := range tags - 1 {
		names = append(names, fmt.Sprintf("%d.%d.%d", j/1000, (j/10)%100, j%10))
	}
	seed.tag("big/app", append(names, "10.0.0"))
	man := newManifestsRepo()
	r := rule("app", reg.Ref("big/app"), "*", "prod")
	man.pin("prod", r.Image, "1.0.0", digest)
	m, err := watch.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rr, err := registry.New(registry.WithRequestObserver(m.ObserveRegistryRequest))
	if err != nil {
		t.Fatal(err)
	}
	w, err := watch.New(&config.Watch{Interval: "1h", Concurrency: 4, MaxTags: tags, Rules: []config.WatchRule{r}}, rr, man, man)
	if err != nil {
		t.Fatal(err)
	}

	stopHeap := sampleHeap(10*time.Millisecond, nil)
	runtime.GC()
	reg.ResetRequests()
	start := time.Now()
	_, err = w.RunOnce(context.Background())
	took := time.Since(start)
	peak := stopHeap()
	if err != nil {
		t.Fatal(err)
	}
	cycleReqs, cyclePages, cycleManifests := len(reg.Requests()), reg.Count("GET", harness.KindTags), reg.Count("", harness.KindManifest)
	if got := man.landed(); len(got) != 1 || got[0] != "prod "+r.Image+":10.0.0@"+digest {
		t.Errorf("promotions %v, want prod → 10.0.0", got)
	}
	reg.ResetRequests()
	listed, _, err := rr.Tags(context.Background(), mustRepo(t, r.Image), 0)
	if err != nil || len(listed) != tags {
		t.Fatalf("full listing: %d tags, %v", len(listed), err)
	}
	t.Logf("10,000 tags: cycle %s, %d registry requests (%d tag-list pages, %d manifest); a full listing takes %d requests at n=1000; peak heap in use %.1f MiB",
		took.Round(time.Millisecond), cycleReqs, cyclePages, cycleManifests, len(reg.Requests()), float64(peak)/(1<<20))
}
