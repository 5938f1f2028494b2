package evidence_test

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/registry"
)

// fakeRegistry is go-containerregistry's in-memory registry behind the
// project's registry client (what evidence.Registry is in production).
type fakeRegistry struct {
	*registry.Client
	host string
}

func newRegistry(t *testing.T) fakeRegistry {
	t.Helper()
	s := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	c, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	return fakeRegistry{Client: c, host: strings.TrimPrefix(s.URL, "http://")}
}

// push writes a random image to repo and returns REPOSITORY@DIGEST.
func (r fakeRegistry) push(t *testing.T, repo string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(r.host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return r.host + "/" + repo + "@" + d.String()
}

// keyPair makes an ECDSA key pair, the private key cosign-encrypted with
// password when one is given (as `cosign generate-key-pair` does).
func keyPair(t *testing.T, password string) (signature.SignerVerifier, signature.Verifier) {
	t.Helper()
	priv, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc([]byte(password)))
	if err != nil {
		t.Fatal(err)
	}
	if password != "" && !strings.Contains(string(priv), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Fatalf("the key is not cosign-encrypted:\n%s", priv)
	}
	sv, err := evidence.LoadPrivateKey(priv, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	v, err := evidence.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sv, v
}

func TestLoadPrivateKeyWrongPassword(t *testing.T) {
	priv, _, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.StaticPasswordFunc([]byte("right")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.LoadPrivateKey(priv, []byte("wrong")); err == nil {
		t.Error("a wrong password opened the key")
	}
}

func vulnPredicate(t *testing.T, at time.Time) []byte {
	t.Helper()
	p, err := evidence.NewVulnPredicate(&gate.Report{
		Image: gate.Image{Ref: "x", Digest: "sha256:00"}, ScannedAt: at, Scanner: "trivy v0.0.1",
		DB: gate.DBInfo{SchemaVersion: 2, UpdatedAt: at.Add(-time.Hour)},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var testNow = time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	now := testNow
	reg := newRegistry(t)
	ours, ourPub := keyPair(t, "s3cret")
	theirs, theirPub := keyPair(t, "")
	signer := evidence.NewSigner(ours, reg)
	verifier := evidence.NewVerifier(reg, func() time.Time { return now })
	fresh := evidence.Requirement{Type: evidence.VulnPredicateType, MaxAge: 7 * 24 * time.Hour}

	signed := reg.push(t, "acme/signed")
	if _, err := signer.Sign(ctx, signed); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Attest(ctx, signed, evidence.VulnPredicateType, vulnPredicate(t, now.Add(-24*time.Hour))); err != nil {
		t.Fatal(err)
	}
	stale := reg.push(t, "acme/stale")
	if _, err := signer.Sign(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := signer.Attest(ctx, stale, evidence.VulnPredicateType, vulnPredicate(t, now.Add(-10*24*time.Hour))); err != nil {
		t.Fatal(err)
	}
	unsigned := reg.push(t, "acme/unsigned")
	otherKey := reg.push(t, "acme/other")
	if _, err := evidence.NewSigner(theirs, reg).Sign(ctx, otherKey); err != nil {
		t.Fatal(err)
	}
	// Tampered: the .sig of another image, valid in itself, copied onto
	// this one's tag.
	tampered := reg.push(t, "acme/signed")
	copyTag(t, artifactTagOf(signed, "sig"), artifactTagOf(tampered, "sig"))
	// An attestation of another image copied onto a signed one.
	borrowed := reg.push(t, "acme/signed")
	if _, err := signer.Sign(ctx, borrowed); err != nil {
		t.Fatal(err)
	}
	copyTag(t, artifactTagOf(signed, "att"), artifactTagOf(borrowed, "att"))

	for _, tc := range []struct {
		name   string
		image  string
		policy evidence.Policy
		reason string // "" = verified
	}{
		{"signed", signed, evidence.Policy{Keys: []signature.Verifier{ourPub}}, ""},
		{"signed, any of two keys", signed, evidence.Policy{Keys: []signature.Verifier{theirPub, ourPub}}, ""},
		{"signed and attested", signed, evidence.Policy{Keys: []signature.Verifier{ourPub}, Attestations: []evidence.Requirement{fresh}}, ""},
		{"unsigned", unsigned, evidence.Policy{Keys: []signature.Verifier{ourPub}}, "not signed"},
		{"wrong key", otherKey, evidence.Policy{Keys: []signature.Verifier{ourPub}}, "no signature by a trusted key"},
		{"tampered", tampered, evidence.Policy{Keys: []signature.Verifier{ourPub}}, "not this image"},
		{"attestation missing", otherKey, evidence.Policy{Keys: []signature.Verifier{theirPub}, Attestations: []evidence.Requirement{fresh}}, "no vuln attestation"},
		{"attestation stale", stale, evidence.Policy{Keys: []signature.Verifier{ourPub}, Attestations: []evidence.Requirement{fresh}}, "240h0m0s old"},
		{"attestation of another image", borrowed, evidence.Policy{Keys: []signature.Verifier{ourPub}, Attestations: []evidence.Requirement{fresh}}, "attests another image"},
		{"attestation by an untrusted key", signed, evidence.Policy{Keys: []signature.Verifier{theirPub}, Attestations: []evidence.Requirement{fresh}}, "no signature by a trusted key"},
		{"no SBOM", signed, evidence.Policy{Keys: []signature.Verifier{ourPub}, Attestations: []evidence.Requirement{{Type: evidence.CycloneDXPredicateType}}}, "no cyclonedx attestation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := verifier.Verify(ctx, tc.image, tc.policy)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if !strings.HasPrefix(res.Signature.Manifest, "sha256:") || len(res.Attestations) != len(tc.policy.Attestations) {
					t.Errorf("result = %+v", res)
				}
				return
			}
			var ue *evidence.UnverifiedError
			if !errors.As(err, &ue) {
				t.Fatalf("Verify = %v, %v; want an *UnverifiedError", res, err)
			}
			if !strings.Contains(ue.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", ue.Reason, tc.reason)
			}
		})
	}
}

func TestSignIsIdempotentAndAttestReplaces(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	key, pub := keyPair(t, "")
	s := evidence.NewSigner(key, reg)
	img := reg.push(t, "acme/cart")
	first, err := s.Sign(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Sign(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("re-signing wrote %+v, want the first signature %+v kept", again, first)
	}
	older := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{older, older.Add(time.Hour)} {
		if _, err := s.Attest(ctx, img, evidence.VulnPredicateType, vulnPredicate(t, at)); err != nil {
			t.Fatal(err)
		}
	}
	m := manifestOf(t, artifactTagOf(img, "att"))
	if len(m.Layers) != 1 {
		t.Errorf(".att holds %d layers after two attestations of one type, want 1 (replaced)", len(m.Layers))
	}
	res, err := evidence.NewVerifier(reg, nil).Verify(ctx, img, evidence.Policy{Keys: []signature.Verifier{pub}, Attestations: []evidence.Requirement{{Type: evidence.VulnPredicateType}}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Attestations[0].At.Equal(older.Add(time.Hour)) {
		t.Errorf("attested at %s, want the newer scan", res.Attestations[0].At)
	}
	var p evidence.VulnPredicate
	if err := json.Unmarshal(vulnPredicate(t, older), &p); err != nil || p.Scanner.DB.Version == "" || p.Scanner.Version != "v0.0.1" {
		t.Errorf("vuln predicate = %+v, %v; want the DB version and scanner version named", p, err)
	}
}

func artifactTagOf(image, suffix string) string {
	repo, digest, _ := strings.Cut(image, "@")
	return repo + ":" + strings.Replace(digest, ":", "-", 1) + "." + suffix
}

func copyTag(t *testing.T, src, dst string) {
	t.Helper()
	s, _ := name.ParseReference(src)
	d, _ := name.ParseReference(dst)
	desc, err := remote.Get(s)
	if err != nil {
		t.Fatal(err)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(d, img); err != nil {
		t.Fatal(err)
	}
}

func manifestOf(t *testing.T, ref string) *struct{ Layers []json.RawMessage } {
	t.Helper()
	r, _ := name.ParseReference(ref)
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Layers []json.RawMessage }
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}
