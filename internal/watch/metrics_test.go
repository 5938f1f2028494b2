package watch

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/webhook"
)

// Time to promotion runs from when the watcher first saw the tag, not from
// the image's created time: a reproducible build dated years ago (its commit
// time) promoted right away measures seconds, not years.
func TestTimeToPromotionFromFirstSeen(t *testing.T) {
	f := newFixture(t, &config.Watch{Interval: "1h", Concurrency: 1, MaxTags: 100, Rules: []config.WatchRule{
		semverRule("cart", "REG/acme/cart", "*", "dev"),
	}})
	image := f.reg.host + "/acme/cart"
	f.man.set("dev", image, "1.0.0", "")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: time.Now().AddDate(-3, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	f.reg.pushImage(img, "acme/cart", "1.1.0")
	if _, err := f.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.prom.promotions()); n != 1 {
		t.Fatalf("%d promotions, want 1", n)
	}
	count, sum := histogram(t, f, "automator_watch_time_to_promotion_seconds")
	if count != 1 || sum > 60 {
		t.Errorf("time to promotion: %d observations summing %.0fs; want 1 of under a minute", count, sum)
	}

	// Announced by a webhook: measured from the announcement, although the
	// payload's push time is a year old.
	f.reg.pushImage(img, "acme/cart", "1.2.0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.w.setRunCtx(ctx)
	if !f.w.Trigger(webhook.Event{Repository: "acme/cart", Tag: "1.2.0", PushedAt: time.Now().AddDate(-1, 0, 0)}) {
		t.Fatal("webhook did not match the watched repository")
	}
	f.w.inflight.Wait()
	count, sum = histogram(t, f, "automator_watch_time_to_promotion_seconds")
	if count != 2 || sum > 120 {
		t.Errorf("after the webhook: %d observations summing %.0fs; want 2 of under a minute each", count, sum)
	}
}

func histogram(t *testing.T, f *fixture, name string) (uint64, float64) {
	t.Helper()
	mfs, err := f.promR.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if mf.GetName() == name {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("no metric %s among %s", name, strings.Join(names, ", "))
	return 0, 0
}

// README's operations list names every series the watcher exports, by its
// full name, and no other automator_ series.
func TestMetricNamesMatchReadme(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	ch := make(chan *prometheus.Desc, 32)
	go func() {
		m, _ := NewMetrics(prometheus.NewRegistry())
		for _, c := range []prometheus.Collector{m.polls, m.registryRequests, m.promotions, m.gateBlocks, m.webhookEvents,
			m.lastSuccess, m.cycleSeconds, m.pushToPromotion, m.tagsTruncated} {
			c.Describe(ch)
		}
		NewStatusBoard(nil, time.Minute, nil).Describe(ch) // the deployed_* series of the status page
		close(ch)
	}()
	exported := map[string]bool{}
	for d := range ch {
		name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())[1]
		exported[name] = true
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("README does not name the series %s", name)
		}
	}
	for _, m := range regexp.MustCompile("`(automator_[a-z_]+)`").FindAllStringSubmatch(readme, -1) {
		if !exported[m[1]] {
			t.Errorf("README names %s, which the watcher does not export", m[1])
		}
	}
}
