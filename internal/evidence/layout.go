package evidence

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/deployment-automator/automator/internal/registry"
)

// cosign's layout of signatures and attestations (see the package doc).
const (
	// SimpleSigningMediaType is the media type of a signature layer.
	SimpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// DSSEMediaType is the media type of an attestation layer.
	DSSEMediaType types.MediaType = "application/vnd.dsse.envelope.v1+json"
	// SignatureAnnotation holds a layer's base64 signature ("" on
	// attestations, whose signature is inside the envelope).
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// PredicateTypeAnnotation names an attestation layer's predicate type.
	PredicateTypeAnnotation = "predicateType"
	// InTotoPayloadType is the DSSE payload type of in-toto statements.
	InTotoPayloadType = "application/vnd.in-toto+json"

	// VulnPredicateType is cosign's vulnerability scan predicate.
	VulnPredicateType = "https://cosign.sigstore.dev/attestation/vuln/v1"
	// CycloneDXPredicateType is the CycloneDX SBOM predicate.
	CycloneDXPredicateType = "https://cyclonedx.org/bom"
)

// Artifact suffixes of cosign's tag scheme: sha256-<hex>.<suffix>.
const (
	sigSuffix  = "sig"
	attSuffix  = "att"
	sbomSuffix = "sbom"
)

// maxLayer bounds what is read of one signature or attestation layer (an
// SBOM of a large image is a few MB): a hostile registry cannot make us
// buffer without end.
const maxLayer = 64 << 20

// PredicateType maps cosign's short attestation type names (`cosign
// verify-attestation --type vuln`) to predicate type URIs; any other value
// is taken as a URI.
func PredicateType(short string) string {
	switch short {
	case "vuln":
		return VulnPredicateType
	case "cyclonedx":
		return CycloneDXPredicateType
	case "spdxjson", "spdx":
		return "https://spdx.dev/Document"
	case "slsaprovenance":
		return "https://slsa.dev/provenance/v0.2"
	case "slsaprovenance1":
		return "https://slsa.dev/provenance/v1"
	}
	return short
}

// ShortType is PredicateType's inverse for display ("vuln" for cosign's
// vulnerability predicate); unknown URIs are returned as they are.
func ShortType(uri string) string {
	for _, s := range []string{"vuln", "cyclonedx", "spdxjson", "slsaprovenance", "slsaprovenance1"} {
		if PredicateType(s) == uri {
			return s
		}
	}
	return uri
}

// Registry is what this package needs of the registry client
// (registry.Client satisfies it; only internal/registry talks to
// registries): reference parsing with the configured insecure hosts, and
// reading, resolving and writing artifacts. Not-found answers satisfy
// registry.IsNotFound.
type Registry interface {
	ParseReference(s string) (name.Reference, error)
	// Digest is the digest ref resolves to now.
	Digest(ctx context.Context, ref string) (v1.Hash, error)
	// Image opens ref for reading.
	Image(ctx context.Context, ref string) (v1.Image, error)
	// WriteImage writes img under ref.
	WriteImage(ctx context.Context, ref string, img v1.Image) error
	// Referrers lists the OCI 1.1 referrers of REPOSITORY@DIGEST (none
	// when the registry knows none).
	Referrers(ctx context.Context, digest string) ([]v1.Hash, error)
}

// digestRef parses image as REPOSITORY@DIGEST: evidence is bound to a
// digest, never to a tag that can move.
func digestRef(reg Registry, image string) (name.Digest, error) {
	ref, err := reg.ParseReference(image)
	if err != nil {
		return name.Digest{}, err
	}
	d, ok := ref.(name.Digest)
	if !ok {
		return name.Digest{}, fmt.Errorf("%s names no digest: evidence is bound to a digest", image)
	}
	return d, nil
}

// artifactTag is the tag of d's artifact with the given suffix in d's
// repository ("" suffix: the OCI referrers fallback tag sha256-<hex>).
func artifactTag(d name.Digest, suffix string) name.Tag {
	t := strings.Replace(d.DigestStr(), ":", "-", 1)
	if suffix != "" {
		t += "." + suffix
	}
	return d.Context().Tag(t)
}

// layer is one layer of a .sig or .att image, read.
type layer struct {
	Digest      v1.Hash
	MediaType   types.MediaType
	Annotations map[string]string
	Content     []byte
	v1          v1.Layer
}

// artifact is a .sig or .att image as found in a registry.
type artifact struct {
	Digest v1.Hash // manifest digest
	Layers []layer
}

// readArtifact reads the artifact at tag; (nil, nil) when there is none.
func readArtifact(ctx context.Context, reg Registry, tag name.Tag) (*artifact, error) {
	img, err := reg.Image(ctx, tag.String())
	if registry.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", tag, err)
	}
	out := &artifact{Digest: d}
	for _, desc := range m.Layers {
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading layer %s of %s: %w", desc.Digest, tag, err)
		}
		if desc.Size > maxLayer {
			return nil, fmt.Errorf("layer %s of %s is %d bytes, over the %d-byte limit", desc.Digest, tag, desc.Size, maxLayer)
		}
		// The compressed stream of a remote layer is checked against its
		// digest as it is read: content cannot differ from the manifest.
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("reading layer %s of %s: %w", desc.Digest, tag, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxLayer+1))
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading layer %s of %s: %w", desc.Digest, tag, err)
		}
		out.Layers = append(out.Layers, layer{Digest: desc.Digest, MediaType: desc.MediaType, Annotations: desc.Annotations, Content: b, v1: l})
	}
	return out, nil
}

// writeArtifact writes the artifact image at tag: keep (layers of the
// existing one) then add, in cosign's layout (an OCI manifest whose config
// lists the layers' diff IDs), and returns its manifest digest.
func writeArtifact(ctx context.Context, reg Registry, tag name.Tag, keep []layer, add ...mutate.Addendum) (v1.Hash, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(keep)+len(add))
	for _, l := range keep {
		adds = append(adds, mutate.Addendum{Layer: l.v1, Annotations: l.Annotations, MediaType: l.MediaType})
	}
	img, err := mutate.Append(img, append(adds, add...)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", tag, err)
	}
	if err := reg.WriteImage(ctx, tag.String(), img); err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("writing %s: %w", tag, err)
	}
	return d, nil
}
