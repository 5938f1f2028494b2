package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Signer signs images and attests them with one key, writing cosign's
// .sig and .att artifacts next to each signed digest. Re-signing is
// idempotent: an image already signed by this key keeps its signature, and
// a new attestation replaces this key's earlier one of the same type (as
// `cosign attest --replace`), so re-runs do not grow the artifacts.
type Signer struct {
	key signature.SignerVerifier
	reg Registry
}

// NewSigner returns a Signer writing through reg.
func NewSigner(key signature.SignerVerifier, reg Registry) *Signer {
	return &Signer{key: key, reg: reg}
}

// Attached names one artifact written or found for an image.
type Attached struct {
	// Type is "signature" or the attestation's short type (vuln, cyclonedx).
	Type string `json:"type"`
	// Manifest is the digest of the .sig or .att image holding it.
	Manifest string `json:"manifest"`
	// Layer is the digest of the signature payload or attestation envelope.
	Layer string `json:"layer"`
}

// Sign signs image (REPOSITORY@DIGEST) with cosign's simple-signing
// payload and stores the signature under sha256-<hex>.sig.
func (s *Signer) Sign(ctx context.Context, image string) (Attached, error) {
	d, err := digestRef(s.reg, image)
	if err != nil {
		return Attached{}, err
	}
	tag := artifactTag(d, sigSuffix)
	existing, err := readArtifact(ctx, s.reg, tag)
	if err != nil {
		return Attached{}, err
	}
	if existing != nil {
		for _, l := range existing.Layers {
			if checkSignature(l, d, []signature.Verifier{s.key}) == nil {
				return Attached{Type: "signature", Manifest: existing.Digest.String(), Layer: l.Digest.String()}, nil
			}
		}
	}
	body, err := payload.Cosign{Image: d}.MarshalJSON()
	if err != nil {
		return Attached{}, fmt.Errorf("signing %s: %w", image, err)
	}
	sig, err := s.key.SignMessage(bytes.NewReader(body))
	if err != nil {
		return Attached{}, fmt.Errorf("signing %s: %w", image, err)
	}
	l := static.NewLayer(body, SimpleSigningMediaType)
	var keep []layer
	if existing != nil {
		keep = existing.Layers
	}
	md, err := writeArtifact(ctx, s.reg, tag, keep, mutate.Addendum{
		Layer: l, MediaType: SimpleSigningMediaType,
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		return Attached{}, fmt.Errorf("signing %s: %w", image, err)
	}
	ld, _ := l.Digest()
	return Attached{Type: "signature", Manifest: md.String(), Layer: ld.String()}, nil
}

// Attest wraps predicate (JSON) of predicateType in an in-toto statement
// about image (REPOSITORY@DIGEST), signs it as a DSSE envelope and stores it
// under sha256-<hex>.att, replacing this key's earlier attestation of that
// type.
func (s *Signer) Attest(ctx context.Context, image, predicateType string, predicate []byte) (Attached, error) {
	d, err := digestRef(s.reg, image)
	if err != nil {
		return Attached{}, err
	}
	stmt, err := statement(d, predicateType, predicate)
	if err != nil {
		return Attached{}, fmt.Errorf("attesting %s: %w", image, err)
	}
	env, err := dsse.WrapSigner(s.key, InTotoPayloadType).SignMessage(bytes.NewReader(stmt))
	if err != nil {
		return Attached{}, fmt.Errorf("attesting %s: %w", image, err)
	}
	tag := artifactTag(d, attSuffix)
	existing, err := readArtifact(ctx, s.reg, tag)
	if err != nil {
		return Attached{}, err
	}
	var keep []layer
	if existing != nil {
		for _, l := range existing.Layers {
			if l.Annotations[PredicateTypeAnnotation] == predicateType {
				if _, err := openAttestation(l, d, predicateType, []signature.Verifier{s.key}); err == nil {
					continue // ours, superseded
				}
			}
			keep = append(keep, l)
		}
	}
	l := static.NewLayer(env, DSSEMediaType)
	md, err := writeArtifact(ctx, s.reg, tag, keep, mutate.Addendum{
		Layer: l, MediaType: DSSEMediaType,
		Annotations: map[string]string{PredicateTypeAnnotation: predicateType, SignatureAnnotation: ""},
	})
	if err != nil {
		return Attached{}, fmt.Errorf("attesting %s: %w", image, err)
	}
	ld, _ := l.Digest()
	return Attached{Type: ShortType(predicateType), Manifest: md.String(), Layer: ld.String()}, nil
}

// statement is the in-toto v1 statement of predicate about d.
func statement(d name.Digest, predicateType string, predicate []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(predicate, &m); err != nil {
		return nil, fmt.Errorf("the %s predicate is not a JSON object: %w", predicateType, err)
	}
	p, err := structpb.NewStruct(m)
	if err != nil {
		return nil, fmt.Errorf("the %s predicate: %w", predicateType, err)
	}
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, err
	}
	st := &ita1.Statement{
		Type:          ita1.StatementTypeUri,
		Subject:       []*ita1.ResourceDescriptor{{Name: d.Context().Name(), Digest: map[string]string{h.Algorithm: h.Hex}}},
		PredicateType: predicateType,
		Predicate:     p,
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return protojson.Marshal(st)
}
