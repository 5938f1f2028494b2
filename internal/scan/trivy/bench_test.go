package trivy

import (
	"context"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// BenchmarkScanSameImageTwice scans one digest twice in one process, as a
// run promoting it to several environments does: the first scan goes to
// Trivy (its layer cache already warm), the second is served by Caching.
func BenchmarkScanSameImageTwice(b *testing.B) {
	s, _ := newTestScanner(b)
	img := scantest.Image(b, scantest.Vulnerable)
	ctx := context.Background()
	if _, err := s.Scan(ctx, "warm", img); err != nil { // warm the layer cache
		b.Fatal(err)
	}
	b.Run("first-scan-trivy", func(b *testing.B) {
		for b.Loop() {
			if _, err := scan.NewCaching(s).Scan(ctx, "cart", img); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("second-scan-digest-cache", func(b *testing.B) {
		c := scan.NewCaching(s)
		if _, err := c.Scan(ctx, "cart", img); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.Scan(ctx, "cart", img); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScanImagesSharingBaseLayers scans pairs of new images (new
// digests, so the digest cache never helps). With a shared base layer only
// the small app layers are analysed, the base comes from Trivy's layer
// cache; with distinct bases every layer is analysed.
func BenchmarkScanImagesSharingBaseLayers(b *testing.B) {
	s, _ := newTestScanner(b)
	ctx := context.Background()
	pair := func(i int, shared bool) [2]v1.Image {
		var out [2]v1.Image
		for j := range out {
			spec := scantest.ImageSpec{OpenSSL: scantest.OpenSSLVulnerable, Files: map[string]string{"app/VERSION": fmt.Sprintf("%d.%d\n", i, j)}}
			if !shared {
				spec.BaseFiles = map[string]string{"etc/build-id": fmt.Sprintf("%d.%d\n", i, j)}
			}
			out[j] = scantest.Image(b, spec)
		}
		return out
	}
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "shared-base", false: "distinct-bases"}[shared]
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				b.StopTimer()
				imgs := pair(i, shared)
				for _, img := range imgs { // compress layers outside the timer
					if _, err := img.Digest(); err != nil {
						b.Fatal(err)
					}
					layers, _ := img.Layers()
					for _, l := range layers {
						if _, err := l.Digest(); err != nil {
							b.Fatal(err)
						}
					}
				}
				i++
				b.StartTimer()
				for _, img := range imgs {
					r, err := s.Scan(ctx, name, img)
					if err != nil {
						b.Fatal(err)
					}
					if len(r.Findings) != 2 {
						b.Fatalf("findings = %+v", r.Findings)
					}
				}
			}
		})
	}
}
