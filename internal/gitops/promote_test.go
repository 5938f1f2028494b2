package gitops

import (
	"context"
	"strings"
	"testing"
)

// A dry run of a promotion into an environment with its own registry shows
// the diff a real run would make (the image under that registry) and copies
// nothing.
func TestDryRunPromotionIntoOtherRegistry(t *testing.T) {
	g := &fakeGit{head: "c0", content: strings.ReplaceAll(values, "ghcr.io/acme/cart", "prod.example/acme/cart"), t: t, failWrites: true}
	p := &Promoter{Writer: newTestWriter(t, g, true), Copier: DryRunCopier{}}
	env := dev
	env.Registry = "prod.example/acme"
	res, err := p.Promote(context.Background(), env, nil, []Update{cartUpdate()})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Diff(); !strings.Contains(d, "+  tag: \"1.1.0\"") {
		t.Errorf("dry run diff:\n%s", d)
	}
}

func TestDryRunCopierReturnsSourceDigest(t *testing.T) {
	d, err := DryRunCopier{}.Copy(context.Background(), "ghcr.io/acme/cart@"+digest("a"), "prod.example/acme/cart:1.1.0")
	if err != nil || d != digest("a") {
		t.Errorf("Copy = %q, %v; want %s", d, err, digest("a"))
	}
	if _, err := (DryRunCopier{}).Copy(context.Background(), "ghcr.io/acme/cart:1.1.0", "prod.example/acme/cart:1.1.0"); err == nil {
		t.Error("a source without digest was accepted")
	}
}
