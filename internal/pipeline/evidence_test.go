package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gate"
)

// fakeEvidence records what the build stage asks it to sign.
type fakeEvidence struct {
	mu     sync.Mutex
	images []string
	fail   error
}

func (f *fakeEvidence) Write(_ context.Context, image string, report *gate.Report) ([]evidence.Attached, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if report == nil || !strings.HasSuffix(image, "@"+report.Image.Digest) {
		return nil, errors.New("asked to attest " + image + " without its own scan report")
	}
	f.images = append(f.images, image)
	return []evidence.Attached{{Type: "signature", Manifest: "sha256:5"}}, nil
}

// Every pushed image is signed in every repository it was pushed to, with
// its scan report; an image blocked everywhere is neither pushed nor
// signed; a signing failure fails the service.
func TestBuildStageSignsWhatItPushes(t *testing.T) {
	f := newStage(t)
	ev := &fakeEvidence{}
	f.stage.Evidence = ev
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "prod"), nil)
	if !errors.Is(err, gate.ErrBlocked) {
		t.Fatalf("Run = %v, want cart blocked", err)
	}
	want := []string{}
	for _, s := range []string{"api", "web"} {
		d := digestOfService(s).String()
		want = append(want, "ghcr.io/acme/"+s+"@"+d, "registry.example.com/acme/"+s+"@"+d)
		if im := imageByService(t, images, s); len(im.Evidence) != 2 {
			t.Errorf("%s evidence = %+v, want one signature per repository", s, im.Evidence)
		}
	}
	slices.Sort(ev.images)
	slices.Sort(want)
	if !slices.Equal(ev.images, want) {
		t.Errorf("signed %v, want %v", ev.images, want)
	}

	f = newStage(t, "api")
	f.stage.Evidence = &fakeEvidence{fail: errors.New("registry refused the .sig tag")}
	if _, err := f.stage.Run(t.Context(), f.plans, targets(t, "prod"), nil); err == nil || !strings.Contains(err.Error(), "signing api") {
		t.Errorf("Run = %v, want the signing failure of api", err)
	}
}
