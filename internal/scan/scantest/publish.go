package scantest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/deployment-automator/automator/internal/registry"
)

// PushDB publishes dbDir (trivy.db and metadata.json) to ref the way the
// trivy-db repositories do: an OCI artifact whose single layer is
// db.tar.gz with Trivy's DB media type, so the scanner's download path can be
// tested against an in-memory registry.
func PushDB(ref, dbDir string) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range []string{"trivy.db", "metadata.json"} {
		b, err := os.ReadFile(filepath.Join(dbDir, n))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, bytes.NewReader(b)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	layer := static.NewLayer(buf.Bytes(), types.MediaType("application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"))
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       layer,
		Annotations: map[string]string{"org.opencontainers.image.title": "db.tar.gz"},
	})
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.MediaType("application/vnd.aquasec.trivy.config.v1+json"))
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", ref, err)
	}
	// Through the project's registry client, the only user of go-containerregistry's remote: stage
	// the artifact in an OCI layout and push that, as the build does.
	dir, err := os.MkdirTemp("", "trivy-db-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	c, err := registry.New()
	if err != nil {
		return err
	}
	_, err = c.Push(context.Background(), dir, d, []string{tag.Context().String()}, []string{tag.TagStr()})
	return err
}
