package promote

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/registry"
)

// fakeRegistry records the copy it was asked for.
type fakeRegistry struct {
	src, dst string
	force    bool
	res      *registry.Copied
	err      error
}

func (f *fakeRegistry) Copy(_ context.Context, src, dst string, force bool, _ ...registry.CopyOption) (*registry.Copied, error) {
	f.src, f.dst, f.force = src, dst, force
	return f.res, f.err
}

func TestRegistryCopier(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	f := &fakeRegistry{res: &registry.Copied{Digest: d}}
	got, err := RegistryCopier{Registry: f}.Copy(t.Context(), "ghcr.io/acme/api@"+d.String(), "prod.example.com/api:1.0")
	if err != nil || got != d.String() {
		t.Fatalf("Copy = %q, %v; want %q", got, err, d)
	}
	if f.src != "ghcr.io/acme/api@"+d.String() || f.dst != "prod.example.com/api:1.0" || f.force {
		t.Errorf("registry asked to copy %s to %s force %v", f.src, f.dst, f.force)
	}
	conflict := &registry.TagConflictError{Tag: "1.0"}
	if _, err := (RegistryCopier{Registry: &fakeRegistry{err: conflict}}).Copy(t.Context(), "a@"+d.String(), "b:1.0"); !errors.Is(err, conflict) {
		t.Errorf("Copy on a tag conflict = %v, want the conflict", err)
	}
}
