package scan

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

const refNameAnnotation = "org.opencontainers.image.ref.name"

// OpenLayout opens the image of an OCI image layout directory, as written by
// the build before push. Like `trivy image --input`, "DIR@sha256:…" or
// "DIR:TAG" selects a manifest by digest or by its ref.name annotation;
// otherwise the first manifest is used, descending into a nested index.
func OpenLayout(path string) (v1.Image, error) {
	dir, sel := path, ""
	if d, s, ok := strings.Cut(path, "@"); ok {
		dir, sel = d, s
	} else if i := strings.LastIndex(path, ":"); i > strings.LastIndex(path, "/") {
		dir, sel = path[:i], path[i+1:]
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("opening OCI layout %q: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading index.json of OCI layout %q: %w", dir, err)
	}
	img, err := pickImage(idx, sel)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %q: %w", path, err)
	}
	return img, nil
}

func pickImage(idx v1.ImageIndex, sel string) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index: %w", err)
	}
	for _, d := range m.Manifests {
		if sel != "" && d.Annotations[refNameAnnotation] != sel && d.Digest.String() != sel {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading nested index %s: %w", d.Digest, err)
			}
			return pickImage(child, "")
		}
		return idx.Image(d.Digest)
	}
	if sel != "" {
		return nil, fmt.Errorf("no manifest with digest or ref.name %q", sel)
	}
	return nil, errors.New("no manifest in index")
}
