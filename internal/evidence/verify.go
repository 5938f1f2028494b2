package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Requirement is one attestation an environment requires.
type Requirement struct {
	// Type is the predicate type URI (see PredicateType).
	Type string
	// MaxAge, when set, is how old the attested scan (a vulnerability
	// predicate's scanFinishedOn, a CycloneDX BOM's metadata.timestamp) may
	// be; an attestation without that time fails it.
	MaxAge time.Duration
}

// Policy is what an environment trusts: a signature by any one of Keys is
// always required, and every listed attestation signed by one of them.
type Policy struct {
	Keys         []signature.Verifier
	Attestations []Requirement
}

// Result is the evidence that satisfied a Policy.
type Result struct {
	// Image is the verified REPOSITORY@DIGEST.
	Image string `json:"image"`
	// Signature is the trusted signature found.
	Signature Attached `json:"signature"`
	// Attestations are the newest trusted attestation of each required
	// type, in the policy's order.
	Attestations []Attestation `json:"attestations,omitempty"`
}

// Attestation is a verified attestation and when its subject was scanned.
type Attestation struct {
	Attached
	// At is the attested time (scan finished, BOM made); zero when the
	// predicate carries none.
	At time.Time `json:"at,omitzero"`
}

// UnverifiedError is an image whose evidence does not satisfy a policy:
// unsigned, signed by no trusted key, tampered with, or lacking a required
// (or fresh enough) attestation. It blocks the environment; Reason is shown
// to reviewers.
type UnverifiedError struct {
	Image  string
	Reason string
}

func (e *UnverifiedError) Error() string {
	return fmt.Sprintf("%s failed verification: %s", e.Image, e.Reason)
}

// Verifier checks images against policies.
type Verifier struct {
	reg Registry
	now func() time.Time
}

// NewVerifier returns a Verifier reading through reg; now (nil: time.Now)
// is the clock attestation ages are measured with.
func NewVerifier(reg Registry, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{reg: reg, now: now}
}

// Verify checks image (REPOSITORY@DIGEST; a tag is resolved once, here)
// against p. Evidence that does not satisfy p is an *UnverifiedError;
// registry failures are other errors (a retry may mend them).
func (v *Verifier) Verify(ctx context.Context, image string, p Policy) (*Result, error) {
	if len(p.Keys) == 0 {
		return nil, errors.New("verifying " + image + ": the policy trusts no key")
	}
	ref, err := v.reg.ParseReference(image)
	if err != nil {
		return nil, err
	}
	d, ok := ref.(name.Digest)
	if !ok {
		h, err := v.reg.Digest(ctx, ref.String())
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", image, err)
		}
		d = ref.Context().Digest(h.String())
		image = ref.Context().Name() + "@" + h.String()
	}
	res := &Result{Image: image}
	sigs, err := readArtifact(ctx, v.reg, artifactTag(d, sigSuffix))
	if err != nil {
		return nil, err
	}
	if sigs == nil || len(sigs.Layers) == 0 {
		return nil, &UnverifiedError{Image: image, Reason: "not signed (no " + artifactTag(d, sigSuffix).TagStr() + ")"}
	}
	var why []string
	for _, l := range sigs.Layers {
		err := checkSignature(l, d, p.Keys)
		if err == nil {
			res.Signature = Attached{Type: "signature", Manifest: sigs.Digest.String(), Layer: l.Digest.String()}
			break
		}
		why = append(why, err.Error())
	}
	if res.Signature.Layer == "" {
		return nil, &UnverifiedError{Image: image, Reason: "no signature by a trusted key: " + summarize(why)}
	}
	if len(p.Attestations) == 0 {
		return res, nil
	}
	atts, err := readArtifact(ctx, v.reg, artifactTag(d, attSuffix))
	if err != nil {
		return nil, err
	}
	for _, req := range p.Attestations {
		a, err := v.attestation(atts, d, req, p.Keys)
		if err != nil {
			return nil, &UnverifiedError{Image: image, Reason: err.Error()}
		}
		res.Attestations = append(res.Attestations, a)
	}
	return res, nil
}

// attestation finds the newest trusted attestation of req's type in atts.
func (v *Verifier) attestation(atts *artifact, d name.Digest, req Requirement, keys []signature.Verifier) (Attestation, error) {
	short := ShortType(req.Type)
	if atts == nil {
		return Attestation{}, fmt.Errorf("no %s attestation (no %s)", short, artifactTag(d, attSuffix).TagStr())
	}
	var best *Attestation
	var why []string
	for _, l := range atts.Layers {
		if l.Annotations[PredicateTypeAnnotation] != req.Type {
			continue
		}
		at, err := openAttestation(l, d, req.Type, keys)
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		if best == nil || at.After(best.At) {
			best = &Attestation{Attached: Attached{Type: short, Manifest: atts.Digest.String(), Layer: l.Digest.String()}, At: at}
		}
	}
	switch {
	case best == nil && len(why) == 0:
		return Attestation{}, fmt.Errorf("no %s attestation", short)
	case best == nil:
		return Attestation{}, fmt.Errorf("no %s attestation by a trusted key: %s", short, summarize(why))
	case req.MaxAge > 0 && best.At.IsZero():
		return Attestation{}, fmt.Errorf("the %s attestation names no time, and at most %s is allowed", short, req.MaxAge)
	case req.MaxAge > 0 && v.now().Sub(best.At) > req.MaxAge:
		return Attestation{}, fmt.Errorf("the newest %s attestation is from %s, %s old; at most %s is allowed",
			short, best.At.UTC().Format(time.RFC3339), v.now().Sub(best.At).Round(time.Minute), req.MaxAge)
	}
	return *best, nil
}

// checkSignature verifies a .sig layer: its signature over the payload by
// one of keys, and the payload naming d (a valid signature of another image,
// copied here, does not count).
func checkSignature(l layer, d name.Digest, keys []signature.Verifier) error {
	b64, ok := l.Annotations[SignatureAnnotation]
	if !ok {
		return fmt.Errorf("layer %s carries no signature", short(l.Digest.String()))
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("layer %s: the signature is not base64", short(l.Digest.String()))
	}
	if !anyKey(keys, func(k signature.Verifier) error {
		return k.VerifySignature(bytes.NewReader(sig), bytes.NewReader(l.Content))
	}) {
		return fmt.Errorf("layer %s: signature does not verify with a trusted key", short(l.Digest.String()))
	}
	var p payload.SimpleContainerImage
	if err := json.Unmarshal(l.Content, &p); err != nil {
		return fmt.Errorf("layer %s: the payload is not a simple-signing document", short(l.Digest.String()))
	}
	if p.Critical.Type != payload.CosignSignatureType {
		return fmt.Errorf("layer %s: payload type %q is not a cosign signature", short(l.Digest.String()), p.Critical.Type)
	}
	if p.Critical.Image.DockerManifestDigest != d.DigestStr() {
		return fmt.Errorf("layer %s signs %s, not this image", short(l.Digest.String()), p.Critical.Image.DockerManifestDigest)
	}
	return nil
}

// statementView is the part of an in-toto statement (v0.1 or v1) checked
// here, with the times of the predicates this package knows.
type statementView struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		Metadata struct {
			ScanFinishedOn time.Time `json:"scanFinishedOn"`
			Timestamp      time.Time `json:"timestamp"`
		} `json:"metadata"`
	} `json:"predicate"`
}

// openAttestation verifies an .att layer — the DSSE envelope signed by one
// of keys, a statement of predicateType whose subject is d — and returns
// the time it attests (zero when none).
func openAttestation(l layer, d name.Digest, predicateType string, keys []signature.Verifier) (time.Time, error) {
	var stmt []byte
	if !anyKey(keys, func(k signature.Verifier) error {
		return dsse.WrapVerifier(k, dsse.WithExpectedPayloadType(InTotoPayloadType), dsse.WithDecodedPayload(&stmt)).
			VerifySignature(bytes.NewReader(l.Content), nil)
	}) {
		return time.Time{}, fmt.Errorf("layer %s: envelope does not verify with a trusted key", short(l.Digest.String()))
	}
	var st statementView
	if err := json.Unmarshal(stmt, &st); err != nil {
		return time.Time{}, fmt.Errorf("layer %s: the statement is not JSON", short(l.Digest.String()))
	}
	if st.PredicateType != predicateType {
		return time.Time{}, fmt.Errorf("layer %s: the statement's predicate is %s, not %s", short(l.Digest.String()), st.PredicateType, predicateType)
	}
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	found := false
	for _, s := range st.Subject {
		found = found || s.Digest[alg] == hex
	}
	if !found {
		return time.Time{}, fmt.Errorf("layer %s attests another image", short(l.Digest.String()))
	}
	if t := st.Predicate.Metadata.ScanFinishedOn; !t.IsZero() {
		return t, nil
	}
	return st.Predicate.Metadata.Timestamp, nil
}

func anyKey(keys []signature.Verifier, f func(signature.Verifier) error) bool {
	for _, k := range keys {
		if f(k) == nil {
			return true
		}
	}
	return false
}

// summarize joins reasons for one line, capped: a registry can hold many
// layers.
func summarize(why []string) string {
	if len(why) > 3 {
		why = append(why[:3:3], fmt.Sprintf("and %d more", len(why)-3))
	}
	return strings.Join(why, "; ")
}

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// ParseRequirement parses a required attestation as the command line
// names it: TYPE or TYPE=MAXAGE (vuln=168h), TYPE a short name (vuln,
// cyclonedx) or a predicate type URI, MAXAGE a Go duration.
func ParseRequirement(s string) (Requirement, error) {
	typ, age, hasAge := strings.Cut(s, "=")
	r := Requirement{Type: PredicateType(typ)}
	if typ == "" {
		return r, fmt.Errorf("attestation %q: name a type (vuln, cyclonedx or a URI)", s)
	}
	if hasAge {
		d, err := time.ParseDuration(age)
		if err != nil || d <= 0 {
			return r, fmt.Errorf("attestation %q: want TYPE=MAXAGE with a positive Go duration such as 168h", s)
		}
		r.MaxAge = d
	}
	return r, nil
}

// PolicyFromFlags is the policy of the command line: the PEM public keys in
// keyFiles (read with read) and the required attestations, each TYPE or
// TYPE=MAXAGE (ParseRequirement), added to base (an environment's policy,
// or empty).
func PolicyFromFlags(base Policy, read func(string) ([]byte, error), keyFiles, attestations []string) (Policy, error) {
	p := Policy{Keys: slices.Clone(base.Keys), Attestations: slices.Clone(base.Attestations)}
	for _, k := range keyFiles {
		b, err := read(k)
		var v signature.Verifier
		if err == nil {
			v, err = LoadPublicKey(b)
		}
		if err != nil {
			return p, fmt.Errorf("--key %s: %w", k, err)
		}
		p.Keys = append(p.Keys, v)
	}
	for _, s := range attestations {
		r, err := ParseRequirement(s)
		if err != nil {
			return p, err
		}
		p.Attestations = append(p.Attestations, r)
	}
	if len(p.Keys) == 0 {
		return p, errors.New("name a trusted key (--key) or an environment with a verify policy (--env)")
	}
	return p, nil
}
