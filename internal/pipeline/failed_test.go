package pipeline

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/build"
)

// The job summary and the images output list every selected service: one
// whose build failed (no image at all) and one whose push failed (built,
// not pushed) appear with status failed and a one-line reason, next to the
// one that succeeded.
func TestReportListsFailedServices(t *testing.T) {
	f := newStage(t)
	f.builder.fail = map[string]error{"api": &build.Error{Service: "api", Builder: "buildah", Err: errors.New("exit status 1"),
		Output: []string{"STEP 2/3: COPY missing.txt /", "Error: building at STEP \"COPY missing.txt /\": no such file"}}}
	f.pusher.fail = map[string]error{f.dir("web"): errors.New("401 unauthorized\nfrom the registry")}
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil)
	var fe *build.FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Run = %v, want *build.FailedError", err)
	}
	reported := ForReport(images, err)

	md := SummaryMarkdown(reported, nil)
	for _, want := range []string{
		"| api | `ghcr.io/acme/api:1.4.0` | — | no | **failed**: building service \"api\" with buildah: exit status 1 — Error: building at STEP \"COPY missing.txt /\": no such file |",
		"| web | `ghcr.io/acme/web:1.4.0` | `sha256:",
		"| no | **failed**: pushing web: 401 unauthorized |",
		"| cart | `ghcr.io/acme/cart:1.4.0` |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	outs, err := Outputs(reported, nil)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []ImageOutput
	if err := json.Unmarshal([]byte(outs[0].Value), &imgs); err != nil {
		t.Fatal(err)
	}
	status := map[string]ImageOutput{}
	for _, im := range imgs {
		status[im.Service] = im
	}
	if len(imgs) != 3 || status["api"].Status != "failed" || status["web"].Status != "failed" || status["cart"].Status != "" {
		t.Errorf("images output = %s, want api and web failed, cart not", outs[0].Value)
	}
	for _, s := range []string{"api", "web"} {
		if r := status[s].Error; r == "" || strings.Contains(r, "\n") {
			t.Errorf("%s: reason %q, want one line", s, r)
		}
	}
	if status["api"].Image != "ghcr.io/acme/api" {
		t.Errorf("failed build lost its image name: %+v", status["api"])
	}
	// Updates come from the images that were built, never from a report entry.
	for _, u := range Updates(reported, false) {
		if u.Service == "api" {
			t.Errorf("an update for the service that did not build: %+v", u)
		}
	}
}
