package e2e_test

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// tagSeeder writes tags of one pushed image straight into the registry's filesystem storage (the same
// bytes distribution writes for a manifest PUT of a manifest the repository holds), which keeps
// seeding thousands of tags to seconds.
type tagSeeder struct {
	tb     testing.TB
	root   string
	digest string
	layers []os.DirEntry
}

// newTagSeeder pushes one image to seed/base and returns a seeder for its digest.
func newTagSeeder(tb testing.TB, reg *harness.Registry) *tagSeeder {
	tb.Helper()
	digest := (&watchWorld{reg: reg}).push(tb, "seed/base", "0.0.0")
	root := filepath.Join(reg.StorageDir, "docker", "registry", "v2", "repositories")
	layers, err := os.ReadDir(filepath.Join(root, "seed", "base", "_layers", "sha256"))
	if err != nil {
		tb.Fatal(err)
	}
	return &tagSeeder{tb: tb, root: root, digest: digest, layers: layers}
}

func (s *tagSeeder) write(p, data string) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		s.tb.Fatal(err)
	}
}

// tag makes repo hold the seeded image under every tag of tags.
func (s *tagSeeder) tag(repo string, tags []string) {
	hex := s.digest[len("sha256:"):]
	dir := filepath.Join(s.root, filepath.FromSlash(repo))
	for _, l := range s.layers {
		s.write(filepath.Join(dir, "_layers", "sha256", l.Name(), "link"), "sha256:"+l.Name())
	}
	s.write(filepath.Join(dir, "_manifests", "revisions", "sha256", hex, "link"), s.digest)
	for _, tag := range tags {
		tdir := filepath.Join(dir, "_manifests", "tags", tag)
		s.write(filepath.Join(tdir, "current", "link"), s.digest)
		s.write(filepath.Join(tdir, "index", "sha256", hex, "link"), s.digest)
	}
}

// sampleHeap records the peak of HeapInuse, calling also (if set) at every sample, until the returned
// stop is called; stop returns the peak in bytes.
func sampleHeap(every time.Duration, also func()) (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			if also != nil {
				also()
			}
			select {
			case <-done:
				return
			case <-time.After(every):
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}
