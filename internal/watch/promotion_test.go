package watch

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
	imgregistry "github.com/deployment-automator/automator/internal/registry"
)

// countingWriter is a gitops.Writer whose environments pin every asked-for
// image at tag; it counts Current calls per environment.
type countingWriter struct {
	gitops.Writer // Apply and Previous are not used by these tests
	mu            sync.Mutex
	tag           string
	reads         map[string]int
}

func (w *countingWriter) Current(_ context.Context, env config.Environment, _ string, images map[string]string) ([]gitops.Image, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads[env.Name]++
	var out []gitops.Image
	for svc, repo := range images {
		if w.tag != "" {
			out = append(out, gitops.Image{Service: svc, Repository: repo, Tag: w.tag})
		}
	}
	return out, nil
}

func (w *countingWriter) take() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.reads
	w.reads = map[string]int{}
	return r
}

func TestWatchReadsEachEnvironmentOncePerCycle(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(repo, tag string) {
		t.Helper()
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewTag(host + "/" + repo + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config.Config{
		Environments: []config.Environment{{Name: "dev"}, {Name: "prod"}},
		Watch:        &config.Watch{Interval: "1h", Concurrency: 3, MaxTags: 100},
	}
	for _, svc := range []string{"cart", "payments", "search"} {
		envs := []string{"dev"}
		if svc == "cart" {
			envs = append(envs, "prod")
		}
		cfg.Watch.Rules = append(cfg.Watch.Rules, config.WatchRule{Name: svc, Image: host + "/acme/" + svc,
			Policy: config.TagPolicy{Semver: ">=1.0.0"}, Environments: envs})
	}
	fw := &countingWriter{reads: map[string]int{}}
	targets, err := promote.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &promote.Promoter{Writer: promote.NewCachedReads(fw, CycleOf)}
	wb, lander, err := WriteBack(p, targets, cfg.Watch.Rules)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(cfg.Watch, mustRemoteRegistry(t), wb, lander)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1.0.0", "1.1.0"} {
		// Every environment already runs the new tag: each cycle decides
		// without promoting, after reading what the environments run.
		for _, svc := range []string{"cart", "payments", "search"} {
			push("acme/"+svc, tag)
		}
		fw.mu.Lock()
		fw.tag = tag
		fw.mu.Unlock()
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := fw.take(); got["dev"] != 1 || got["prod"] != 1 || len(got) != 2 {
			t.Errorf("cycle of %s: reads per environment %v, want dev:1 prod:1", tag, got)
		}
	}

	// Outside a watcher cycle nothing is cached.
	for range 2 {
		if tag, _, err := wb.Current(context.Background(), "dev", host+"/acme/search"); err != nil || tag != "1.1.0" {
			t.Fatalf("Current = %q, %v", tag, err)
		}
	}
	if got := fw.take(); got["dev"] != 2 {
		t.Errorf("reads outside a cycle %v, want dev:2", got)
	}
	fw.mu.Lock()
	fw.tag = ""
	fw.mu.Unlock()
	if _, _, err := wb.Current(context.Background(), "prod", host+"/acme/search"); !errors.Is(err, ErrNotDeployed) {
		t.Errorf("an image prod does not pin: err = %v, want ErrNotDeployed", err)
	}
	if _, _, err := WriteBack(p, targets, []config.WatchRule{{Name: "x", Image: "y", Environments: []string{"qa"}}}); err == nil || !strings.Contains(err.Error(), `"qa"`) {
		t.Errorf("unknown environment: err = %v", err)
	}
}

func mustRemoteRegistry(t *testing.T) *imgregistry.Client {
	t.Helper()
	rr, err := imgregistry.New()
	if err != nil {
		t.Fatal(err)
	}
	return rr
}
