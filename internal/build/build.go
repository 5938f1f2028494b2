// Package build turns a service of the monorepo into an OCI image layout on disk.
//
// Building is separated from pushing on purpose: a build produces an OCI image layout directory and the
// digest of the image (or image index) in it, and nothing leaves the machine. The vulnerability gate scans
// that layout, and only then does internal/registry push it ("build once, deploy many": every later step
// pins the digest returned here).
//
// Two real backends implement Builder: buildah (daemonless, `buildah bud` with the vfs storage driver and
// chroot isolation) and docker (`docker buildx build --output type=oci`). New picks one from
// build.builder (auto|buildah|docker).
package build

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.uber.org/zap"
)

// Builder builds one service into an OCI image layout. Implementations are safe for concurrent use by
// several goroutines (one per service); Close releases what the builder owns (temporary storage).
type Builder interface {
	// Name is the backend name as written in config: "buildah" or "docker".
	Name() string
	// Build runs the build described by req and returns where the layout is and the digest of its
	// image or index. On failure it returns a *Error carrying the builder's last output lines.
	Build(ctx context.Context, req Request) (*Result, error)
	// Close removes temporary state the builder created. The layouts it produced are not touched.
	Close() error
}

// Secret is a build secret exposed to `RUN --mount=type=secret,id=ID`. Exactly one of Env and File is
// set. Secrets are passed to the builder as build secrets, never as build arguments or labels, so they
// end up neither in the image history nor in logs.
type Secret struct {
	ID   string
	Env  string // name of the environment variable holding the value
	File string // path of a file holding the value
}

// Request describes one service build.
type Request struct {
	// Service is the service name; it prefixes every line of builder output in the log.
	Service string
	// Context is the build context directory (absolute, or relative to the process working directory).
	Context string
	// Dockerfile is the Dockerfile path; empty means <Context>/Dockerfile.
	Dockerfile string
	// Output is the directory the OCI image layout is written to. It must not exist or be empty.
	Output string
	// Args are build arguments (never secrets).
	Args map[string]string
	// Target is the Dockerfile stage to build; empty builds the last stage.
	Target string
	// Platforms are target platforms such as linux/amd64; more than one produces an image index.
	Platforms []string
	// Secrets are build secrets.
	Secrets []Secret
	// CacheFrom and CacheTo are passed through to the builder unchanged.
	CacheFrom, CacheTo []string
	// Labels are set on the image config (and as manifest annotations); see Metadata.Labels for the
	// org.opencontainers.image.* ones every image carries.
	Labels map[string]string
	// Log, when set, receives this build's output lines instead of the
	// builder's logger (WithLogger): a per-service log, such as a GitHub
	// Actions group, so parallel builds do not interleave. It should carry
	// the service name; the lines are not tagged with it again.
	Log *zap.Logger
	// Timestamp, when set, pins every timestamp in the image (config created time, layer file times)
	// so that the same source builds to the same digest (SOURCE_DATE_EPOCH semantics). Use the
	// commit time.
	Timestamp time.Time
}

func (r Request) validate() error {
	var errs []error
	if r.Service == "" {
		errs = append(errs, errors.New("service name is empty"))
	}
	if r.Context == "" {
		errs = append(errs, errors.New("build context is empty"))
	}
	if r.Output == "" {
		errs = append(errs, errors.New("output layout directory is empty"))
	}
	for _, s := range r.Secrets {
		if s.ID == "" || (s.Env == "") == (s.File == "") {
			errs = append(errs, fmt.Errorf("secret %q: set an id and exactly one of env or file", s.ID))
		}
		if strings.ContainsAny(s.ID+s.Env+s.File, ",=") {
			errs = append(errs, fmt.Errorf("secret %q: id, env and file may not contain ',' or '='", s.ID))
		}
	}
	for k := range r.Args {
		if k == "" || strings.Contains(k, "=") {
			errs = append(errs, fmt.Errorf("build arg %q: invalid name", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid build request for service %q: %w", r.Service, err)
	}
	return nil
}

// Result is a finished build: an OCI image layout holding exactly one image or image index.
type Result struct {
	// Service is the service that was built.
	Service string
	// Builder is the backend that built it.
	Builder string
	// Layout is the OCI image layout directory.
	Layout string
	// Digest is the digest of the image manifest or image index in Layout; it is the digest the image has
	// in every registry it is pushed to.
	Digest v1.Hash
	// MediaType is the media type of the manifest or index.
	MediaType types.MediaType
}

// IsIndex reports whether the result is a multi-platform image index.
func (r *Result) IsIndex() bool { return r.MediaType.IsIndex() }

// Error is a failed build. Output holds the builder's last lines, which usually name the Dockerfile
// instruction that failed; they are part of the error text so the summary shows them.
type Error struct {
	Service string
	Builder string
	Output  []string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "building service %q with %s: %v", e.Service, e.Builder, e.Err)
	if len(e.Output) > 0 {
		b.WriteString("\nlast builder output:\n  ")
		b.WriteString(strings.Join(e.Output, "\n  "))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrLabelsMissing is returned when a built image's config lacks a label the request asked for; a
// builder that silently drops labels would otherwise publish images without provenance.
var ErrLabelsMissing = errors.New("image config lacks requested labels")

// ReadLayout returns the single image or index stored in the OCI layout at dir, checking that every
// image in it carries labels in its config.
func ReadLayout(dir string, labels map[string]string) (v1.Descriptor, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading OCI layout index %q: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return v1.Descriptor{}, fmt.Errorf("OCI layout %q holds %d manifests, want exactly 1", dir, len(im.Manifests))
	}
	desc := im.Manifests[0]
	if err := checkLabels(idx, desc, labels); err != nil {
		return v1.Descriptor{}, fmt.Errorf("checking labels in OCI layout %q: %w", dir, err)
	}
	return desc, nil
}

func checkLabels(idx v1.ImageIndex, desc v1.Descriptor, want map[string]string) error {
	switch {
	case desc.MediaType.IsIndex():
		child, err := idx.ImageIndex(desc.Digest)
		if err != nil {
			return err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range cm.Manifests {
			if d.MediaType.IsImage() || d.MediaType.IsIndex() {
				if err := checkLabels(child, d, want); err != nil {
					return err
				}
			}
		}
		return nil
	case desc.MediaType.IsImage():
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		var missing []string
		for k, v := range want {
			if got, ok := cf.Config.Labels[k]; !ok || got != v {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return fmt.Errorf("%w: image %s: %s", ErrLabelsMissing, desc.Digest, strings.Join(missing, ", "))
		}
		return nil
	default:
		return fmt.Errorf("unexpected media type %q for %s", desc.MediaType, desc.Digest)
	}
}

// sortedPairs renders a map as sorted k=v strings so command lines are deterministic.
func sortedPairs(m map[string]string) []string {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}
