package e2e_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/registry"
)

// BenchmarkCopy5x20MB copies an image of 5 layers × 20 MB between two local docker-registry instances,
// with automator's registry.Client and, side by side, with `skopeo copy` on the same source image.
// Every iteration copies into a freshly started destination registry (started with the timer stopped),
// so all 100 MB cross the wire each time: skopeo's blob-info cache would otherwise turn later
// iterations into cross-repository mounts and compare a mount with an upload.
//
//	go test ./e2e -run '^$' -bench Copy5x20MB -benchtime 3x
func BenchmarkCopy5x20MB(b *testing.B) {
	skopeo := harness.RequireBinary(b, "skopeo")
	src := harness.StartRegistry(b)
	img, err := random.Image(20<<20, 5)
	if err != nil {
		b.Fatal(err)
	}
	srcRef, _ := name.ParseReference(src.DirectHost + "/bench/app:1.0.0")
	if err := remote.Write(srcRef, img); err != nil {
		b.Fatal(err)
	}
	size := int64(0)
	layers, _ := img.Layers()
	for _, l := range layers {
		n, _ := l.Size()
		size += n
	}
	c, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	for _, tool := range []struct {
		name string
		copy func(b *testing.B, dst string)
	}{
		{"automator", func(b *testing.B, dst string) {
			if _, err := c.Copy(ctx, srcRef.String(), dst+"/bench/app:1.0.0", false); err != nil {
				b.Fatal(err)
			}
		}},
		{"skopeo", func(b *testing.B, dst string) {
			skopeoCopy(b, skopeo, srcRef.String(), dst+"/bench/app:1.0.0")
		}},
	} {
		b.Run(tool.name, func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				b.StopTimer()
				dst := harness.StartRegistry(b).DirectHost
				b.StartTimer()
				tool.copy(b, dst)
			}
		})
	}
}
