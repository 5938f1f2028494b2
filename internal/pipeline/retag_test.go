package pipeline

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/deployment-automator/automator/internal/registry"
)

// fakeRegistry holds tags (REPOSITORY:TAG → digest) and answers Digest and
// Copy as registry.Client does: a missing tag is a 404, and Copy never
// moves a tag that points elsewhere.
type fakeRegistry struct {
	down error // every lookup fails with it

	mu     sync.Mutex
	tags   map[string]v1.Hash
	copies []string
}

var _ Retagger = (*fakeRegistry)(nil)

func (r *fakeRegistry) Digest(_ context.Context, ref string) (v1.Hash, error) {
	if r.down != nil {
		return v1.Hash{}, r.down
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.tags[ref]
	if !ok {
		return v1.Hash{}, &transport.Error{StatusCode: http.StatusNotFound}
	}
	return d, nil
}

func (r *fakeRegistry) Copy(_ context.Context, src, dst string, force bool, _ ...registry.CopyOption) (*registry.Copied, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ds, _ := strings.Cut(src, "@")
	want, err := v1.NewHash(ds)
	if err != nil {
		return nil, err
	}
	if cur, ok := r.tags[dst]; ok && cur != want && !force {
		return nil, &registry.TagConflictError{Tag: dst, Existing: cur, Want: want}
	}
	r.tags[dst] = want
	r.copies = append(r.copies, dst)
	return &registry.Copied{Digest: want, Reference: dst + "@" + want.String(), Changed: true}, nil
}

// published is a stage whose plans name their commit tag, and a registry
// holding api's commit image (built by an earlier event on that commit).
func published(t *testing.T) (*stageFixture, *fakeRegistry) {
	f := newStage(t, "api", "web")
	for i := range f.plans {
		f.plans[i].CommitTags = []string{"sha-0123456"}
	}
	reg := &fakeRegistry{tags: map[string]v1.Hash{"ghcr.io/acme/api:sha-0123456": digestOfService("api-earlier")}}
	f.stage.Registry = reg
	var opened []string
	f.stage.Gate.Open = func(_ context.Context, ref string) (v1.Image, error) {
		opened = append(opened, ref)
		return empty.Image, nil
	}
	t.Cleanup(func() {
		if want := []string{"ghcr.io/acme/api@" + digestOfService("api-earlier").String()}; !slices.Equal(opened, want) {
			t.Errorf("remote scans = %v, want %v", opened, want)
		}
	})
	return f, reg
}

// A commit whose image is published is not built again: its image is
// scanned from the registry and tagged again by digest in every repository,
// while a service never published is built and pushed.
func TestBuildStageRetagsPublishedCommit(t *testing.T) {
	f, reg := published(t)
	images, err := f.stage.Run(context.Background(), f.plans, targets(t, "rc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.builder.built, []string{"web"}) {
		t.Errorf("built %v, want only web", f.builder.built)
	}
	api := imageByService(t, images, "api")
	if !api.Retagged || !api.Pushed || api.Digest != digestOfService("api-earlier").String() || !slices.Equal(api.Allowed, []string{"rc"}) {
		t.Errorf("api = %+v, want the published digest re-tagged and allowed into rc", api)
	}
	wantCopies := []string{"ghcr.io/acme/api:sha-0123456", "ghcr.io/acme/api:1.4.0", "registry.example.com/acme/api:sha-0123456", "registry.example.com/acme/api:1.4.0"}
	if !slices.Equal(reg.copies, wantCopies) || len(api.References) != 4 {
		t.Errorf("copies = %v (references %v), want %v", reg.copies, api.References, wantCopies)
	}
	if web := imageByService(t, images, "web"); web.Retagged || !web.Pushed || !slices.Equal(f.pusher.pushedDirs(), []string{f.dir("web")}) {
		t.Errorf("web = %+v, pushes %v; want web built and pushed", web, f.pusher.pushedDirs())
	}
}

// A tag that already names another digest is never moved: the service
// fails with the registry's conflict and says which tag.
func TestBuildStageRetagRefusesToMoveATag(t *testing.T) {
	f, reg := published(t)
	reg.tags["registry.example.com/acme/api:1.4.0"] = digestOfService("something else")
	_, err := f.stage.Run(context.Background(), f.plans[:1], targets(t, "rc"), nil)
	var conflict *registry.TagConflictError
	if !errors.As(err, &conflict) || conflict.Tag != "registry.example.com/acme/api:1.4.0" {
		t.Fatalf("err = %v, want a tag conflict on the mirror's 1.4.0", err)
	}
	if reg.tags["registry.example.com/acme/api:1.4.0"] != digestOfService("something else") {
		t.Error("the conflicting tag was moved")
	}
}

// A build whose commit tag was published meanwhile with another digest is
// not pushed over it.
func TestBuildStageKeepsCommitTags(t *testing.T) {
	f := newStage(t, "web")
	p := f.plans[0]
	p.CommitTags = []string{"sha-0123456"}
	f.stage.Registry = &fakeRegistry{tags: map[string]v1.Hash{"ghcr.io/acme/web:sha-0123456": digestOfService("web-earlier")}}
	var conflict *registry.TagConflictError
	if err := f.stage.keepCommitTags(context.Background(), p, digestOfService("web")); !errors.As(err, &conflict) {
		t.Errorf("keepCommitTags = %v, want a tag conflict", err)
	}
	if err := f.stage.keepCommitTags(context.Background(), p, digestOfService("web-earlier")); err != nil {
		t.Errorf("keepCommitTags of the same digest = %v", err)
	}
}

// A registry that cannot say whether the commit is published fails the
// service rather than building it (a build's push could move the tag).
func TestBuildStageRegistryDown(t *testing.T) {
	f := newStage(t, "api")
	f.plans[0].CommitTags = []string{"sha-0123456"}
	f.stage.Registry = &fakeRegistry{down: errors.New("connection refused")}
	_, err := f.stage.Run(context.Background(), f.plans[:1], targets(t, "rc"), nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || len(f.builder.built) != 0 {
		t.Errorf("err = %v, built %v; want the lookup's failure and no build", err, f.builder.built)
	}
}
