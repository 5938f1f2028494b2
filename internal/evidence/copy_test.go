package evidence_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/deployment-automator/automator/internal/evidence"
)

// copyImage is a CopyFunc over go-containerregistry, standing in for the
// registry client's Copy.
func copyImage(_ context.Context, src, dst string) error {
	s, err := name.ParseReference(src)
	if err != nil {
		return err
	}
	d, err := name.ParseReference(dst)
	if err != nil {
		return err
	}
	img, err := remote.Image(s)
	if err != nil {
		return err
	}
	return remote.Write(d, img)
}

func TestCarry(t *testing.T) {
	ctx := context.Background()
	from, to := newRegistry(t), newRegistry(t)
	key, pub := keyPair(t, "")
	img := from.push(t, "acme/cart")
	if _, err := evidence.NewSigner(key, from).Sign(ctx, img); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.NewSigner(key, from).Attest(ctx, img, evidence.VulnPredicateType, vulnPredicate(t, testNow)); err != nil {
		t.Fatal(err)
	}
	bare := from.push(t, "acme/bare")
	c := evidence.Carrier{Registry: from, Copy: copyImage}

	_, digest, _ := strings.Cut(img, "@")
	if err := copyImage(ctx, img, to.host+"/prod/cart:1.0.0"); err != nil {
		t.Fatal(err)
	}
	got, err := c.Carry(ctx, img, to.host+"/prod/cart:1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.HasSuffix(got[0], ".sig") || !strings.HasSuffix(got[1], ".att") {
		t.Errorf("carried %v, want the .sig and .att tags", got)
	}
	policy := evidence.Policy{Keys: []signature.Verifier{pub}, Attestations: []evidence.Requirement{{Type: evidence.VulnPredicateType}}}
	if _, err := evidence.NewVerifier(to, nil).Verify(ctx, to.host+"/prod/cart@"+digest, policy); err != nil {
		t.Errorf("the copy does not verify at the destination: %v", err)
	}

	if got, err := c.Carry(ctx, bare, to.host+"/prod/bare:1"); err != nil || len(got) != 0 {
		t.Errorf("Carry of an image without evidence = %v, %v; want nothing copied", got, err)
	}
	if got, err := c.Carry(ctx, img, from.host+"/acme/cart:again"); err != nil || len(got) != 0 {
		t.Errorf("Carry of a re-tag = %v, %v; want nothing copied (the evidence is already there)", got, err)
	}
}
