package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/build"
)

func TestBuildRequestWithActionsEnv(t *testing.T) {
	actionsEnv := map[string]string{"GITHUB_SHA": "abc123", "GITHUB_REF": "refs/heads/main", "GITHUB_REPOSITORY": "acme/app",
		"GITHUB_SERVER_URL": "https://ghe.example.com/"}
	tests := []struct {
		name string
		env  map[string]string
		in   BuildRequest
		want BuildRequest
	}{
		{"outside Actions nothing is filled", nil, BuildRequest{Builder: "docker"}, BuildRequest{Builder: "docker"}},
		{"Actions fills the gaps", actionsEnv, BuildRequest{},
			BuildRequest{SHA: "abc123", Ref: "refs/heads/main", Repo: "acme/app", Source: "https://ghe.example.com/acme/app"}},
		{"flags win", actionsEnv, BuildRequest{SHA: "def456", Ref: "refs/tags/v1", Source: "https://example.com/src"},
			BuildRequest{SHA: "def456", Ref: "refs/tags/v1", Repo: "acme/app", Source: "https://example.com/src"}},
		{"github.com by default", map[string]string{"GITHUB_REPOSITORY": "acme/app"}, BuildRequest{},
			BuildRequest{Repo: "acme/app", Source: "https://github.com/acme/app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.WithActionsEnv(func(k string) string { return tt.env[k] })
			if got.SHA != tt.want.SHA || got.Ref != tt.want.Ref || got.Repo != tt.want.Repo || got.Source != tt.want.Source || got.Builder != tt.want.Builder {
				t.Errorf("WithActionsEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDeliveredReport(t *testing.T) {
	images, envs := runFixture(t)
	var out bytes.Buffer
	outs, summary, err := (&Delivered{Images: images, Envs: envs}).Report(&out, false)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Outputs(images, envs)
	if len(outs) != len(want) || summary != SummaryMarkdown(images, envs) {
		t.Errorf("Report returned %d outputs and a summary differing from Outputs/SummaryMarkdown", len(outs))
	}
	// Each environment with a result is printed, in order; those without
	// one (failed before writing) are not.
	var printed []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		env, _, _ := strings.Cut(line, ":")
		printed = append(printed, env)
	}
	if got := strings.Join(printed, ","); got != "dev,staging,rc,preview,edge" {
		t.Errorf("printed environments %s, want dev,staging,rc,preview,edge:\n%s", got, out.String())
	}
}

func TestImagesJSON(t *testing.T) {
	f := newStage(t)
	f.builder.fail = map[string]error{"api": &build.Error{Service: "api", Builder: "buildah", Err: errors.New("exit status 1")}}
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev"), nil)
	got, jerr := ImagesJSON(images, err)
	if jerr != nil {
		t.Fatal(jerr)
	}
	var list []ImageOutput
	if err := json.Unmarshal([]byte(got), &list); err != nil || strings.Contains(got, "\n") {
		t.Fatalf("ImagesJSON = %q (%v), want one line of JSON", got, err)
	}
	want, _ := json.Marshal(ImageOutputs(ForReport(images, err)))
	if got != string(want) {
		t.Errorf("ImagesJSON =\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(got, `"service":"api"`) {
		t.Errorf("the failed service is missing: %s", got)
	}
}
