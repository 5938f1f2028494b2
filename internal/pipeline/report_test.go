package pipeline

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// runFixture is a delivery run: api, cart (CRITICAL: warned in dev, blocked
// in prod) and web built for dev and prod, plus docs, built but neither
// scanned nor pushed; and the outcome of each kind of environment.
func runFixture(t *testing.T) ([]*Image, []EnvOutcome) {
	t.Helper()
	f := newStage(t)
	images, err := f.stage.Run(t.Context(), f.plans, targets(t, "dev", "prod"), &gitops.Source{Repo: "acme/app", From: "1111111", To: "2222222"})
	if err != nil {
		t.Fatal(err)
	}
	images = append(images, &Image{Service: "docs", Image: "ghcr.io/acme/docs", Tags: []string{"sha-0123456"}, Digest: digestOfService("docs").String(), BuiltAt: testNow})
	cart := imageByService(t, images, "cart")

	blockedCart := func(env string) *gate.BlockedError {
		return &gate.BlockedError{Env: env, Images: []gate.Blocked{{Service: "cart", Image: gate.Image{Ref: cart.Image, Digest: cart.Digest}}}}
	}
	envs := []EnvOutcome{
		{Env: "dev", Result: &gitops.Result{Env: "dev", Commit: "0123456789abcdef0123456789abcdef01234567", CommitURL: "https://github.com/acme/manifests/commit/0123456789abcdef0123456789abcdef01234567"}},
		{Env: "staging", Result: &gitops.Result{Env: "staging", PR: &gitops.PullRequest{Number: 41, URL: "https://github.com/acme/manifests/pull/41", Branch: "automator/staging", Created: true}}, Err: blockedCart("staging")},
		{Env: "prod", Err: blockedCart("prod")},
		{Env: "rc", Result: &gitops.Result{Env: "rc", PR: &gitops.PullRequest{Number: 42, URL: "https://github.com/acme/manifests/pull/42", Branch: "automator/rc", Updated: true}}},
		{Env: "preview", Result: &gitops.Result{Env: "preview", PR: &gitops.PullRequest{Number: 43, URL: "https://github.com/acme/manifests/pull/43", Branch: "automator/preview"}}},
		{Env: "qa", Err: errors.New("qa/values.yaml: field | not found")},
		{Env: "ops"},
		{Env: "edge", Result: &gitops.Result{Env: "edge"}},
	}
	return images, envs
}

func outputs(t *testing.T, images []*Image, envs []EnvOutcome) map[string]string {
	t.Helper()
	outs, err := Outputs(images, envs)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	var names []string
	for _, o := range outs {
		m[o.Name] = o.Value
		names = append(names, o.Name)
		if !json.Valid([]byte(o.Value)) {
			t.Errorf("output %s is not valid JSON: %s", o.Name, o.Value)
		}
	}
	if !slices.Equal(names, []string{"images", "pull-requests", "commits", "blocked"}) {
		t.Errorf("outputs = %v", names)
	}
	return m
}

// sameJSON compares got against want as JSON values.
func sameJSON(t *testing.T, name, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output %s: %v", name, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected %s: %v", name, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("output %s =\n%s\nwant\n%s", name, got, want)
	}
}

func TestOutputs(t *testing.T) {
	images, envs := runFixture(t)
	m := outputs(t, images, envs)
	d := func(s string) string { return digestOfService(s).String() }

	sameJSON(t, "images", m["images"], `[
		{"service":"api","image":"ghcr.io/acme/api","tags":["sha-0123456","1.4.0"],"digest":"`+d("api")+`","pushed":true},
		{"service":"cart","image":"ghcr.io/acme/cart","tags":["sha-0123456","1.4.0"],"digest":"`+d("cart")+`","pushed":true},
		{"service":"web","image":"ghcr.io/acme/web","tags":["sha-0123456","1.4.0"],"digest":"`+d("web")+`","pushed":true},
		{"service":"docs","image":"ghcr.io/acme/docs","tags":["sha-0123456"],"digest":"`+d("docs")+`","pushed":false}]`)
	sameJSON(t, "pull-requests", m["pull-requests"], `[
		{"environment":"staging","number":41,"url":"https://github.com/acme/manifests/pull/41","branch":"automator/staging","created":true,"updated":false},
		{"environment":"rc","number":42,"url":"https://github.com/acme/manifests/pull/42","branch":"automator/rc","created":false,"updated":true},
		{"environment":"preview","number":43,"url":"https://github.com/acme/manifests/pull/43","branch":"automator/preview","created":false,"updated":false}]`)
	sameJSON(t, "commits", m["commits"], `[
		{"environment":"dev","sha":"0123456789abcdef0123456789abcdef01234567","url":"https://github.com/acme/manifests/commit/0123456789abcdef0123456789abcdef01234567"}]`)
	// cart is blocked for prod by the build and again by prod's write-back:
	// reported once.
	sameJSON(t, "blocked", m["blocked"], `[
		{"service":"cart","environment":"prod","digest":"`+d("cart")+`"},
		{"service":"cart","environment":"staging","digest":"`+d("cart")+`"}]`)
}

func TestOutputsEmpty(t *testing.T) {
	for name, in := range map[string]struct {
		images []*Image
		envs   []EnvOutcome
	}{
		"nothing":              {},
		"nothing written back": {images: []*Image{{Service: "web", Image: "ghcr.io/acme/web", Tags: []string{}, Digest: "sha256:w"}}, envs: []EnvOutcome{{Env: "dev"}}},
	} {
		t.Run(name, func(t *testing.T) {
			m := outputs(t, in.images, in.envs)
			for _, k := range []string{"pull-requests", "commits", "blocked"} {
				if m[k] != "[]" {
					t.Errorf("output %s = %s, want []", k, m[k])
				}
			}
			if len(in.images) == 0 && m["images"] != "[]" {
				t.Errorf("output images = %s, want []", m["images"])
			}
		})
	}
}

func TestOutputsBlockedDigests(t *testing.T) {
	// Two results of cart blocked for prod (a re-run uploaded a second
	// one); prod's write-back blocks the newest again. Each digest is
	// listed once.
	d1, d2 := digestOfService("cart-1").String(), digestOfService("cart-2").String()
	images := []*Image{
		{Service: "cart", Image: "ghcr.io/acme/cart", Digest: d1, Blocked: []string{"prod"}},
		{Service: "cart", Image: "ghcr.io/acme/cart", Digest: d2, Blocked: []string{"prod"}},
	}
	envs := []EnvOutcome{{Env: "prod", Err: &gate.BlockedError{Env: "prod", Images: []gate.Blocked{{Service: "cart", Image: gate.Image{Ref: "ghcr.io/acme/cart:1.4.0", Digest: d1}}}}}}
	m := outputs(t, images, envs)
	var got []blockedOutput
	if err := json.Unmarshal([]byte(m["blocked"]), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Digest == got[1].Digest || got[0].Environment != "prod" || got[1].Environment != "prod" {
		t.Errorf("blocked = %s, want cart in prod once per digest", m["blocked"])
	}
}

func TestSummaryMarkdown(t *testing.T) {
	images, envs := runFixture(t)
	got := SummaryMarkdown(images, envs)
	golden := filepath.Join("testdata", "summary.golden.md")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("SummaryMarkdown differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	for _, s := range []string{
		"| cart | `ghcr.io/acme/cart:1.4.0` | `sha256:" + digestOfService("cart").Hex[:12] + "` | yes | dev: **warn** (C1 H0 M1 L0)<br>prod: **block** (C1 H0 M1 L0) |",
		"| docs | `ghcr.io/acme/docs:sha-0123456` |",
		"| no | not scanned |",
		"| dev | commit [`0123456789ab`](https://github.com/acme/manifests/commit/0123456789abcdef0123456789abcdef01234567) |",
		"| staging | pull request [#41](https://github.com/acme/manifests/pull/41) opened; blocked by the gate: cart |",
		"| prod | failed: environment \"prod\": the gate blocked cart |",
		"| rc | pull request [#42](https://github.com/acme/manifests/pull/42) updated |",
		"| preview | pull request [#43](https://github.com/acme/manifests/pull/43) up to date |",
		"| qa | failed: qa/values.yaml: field \\| not found |",
		"| ops | nothing to do |",
		"| edge | no change |",
		"<summary>cart — warn in dev</summary>",
		"<summary>cart — block in prod</summary>",
		"| CVE-2026-0001 | openssl | 3.3.0-r0 → 3.3.2-r0 | CRITICAL |",
		"Scanned with trivy v0.74.0; vulnerability DB updated 2026-04-30 06:00 UTC (30h ago).",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("summary lacks %q", s)
		}
	}
	if strings.Contains(got, "CVE-2026-0002") {
		t.Error("summary lists a finding that did not decide a verdict")
	}
}

func TestSummaryMarkdownShapes(t *testing.T) {
	if got := SummaryMarkdown(nil, nil); got != "## automator\n\n" {
		t.Errorf("empty summary = %q", got)
	}
	// An untagged image, a no-fix deciding finding, and the DB line when
	// the first image was not scanned (its scan failed) but a later one was.
	unfixed := criticalFinding
	unfixed.Fixed, unfixed.Status = "", "affected"
	r := report("ghcr.io/acme/web@sha256:w", unfixed)
	v := gate.Evaluate(r, "prod", gate.Policy{FailOn: []gate.Severity{gate.SeverityCritical}, Mode: gate.ModeBlock}, nil, testNow)
	images := []*Image{
		{Service: "api", Image: "ghcr.io/acme/api", Digest: "sha256:a"},
		{Service: "web", Image: "ghcr.io/acme/web", Digest: "sha256:w", Verdicts: []gate.Verdict{v}, Blocked: []string{"prod"}, Report: r},
	}
	got := SummaryMarkdown(images, nil)
	for _, s := range []string{"| api | `ghcr.io/acme/api` | `sha256:a` | no | not scanned |", "| 3.3.0-r0 → no fix | CRITICAL |", "vulnerability DB updated 2026-04-30 06:00 UTC (30h ago)"} {
		if !strings.Contains(got, s) {
			t.Errorf("summary lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "| environment |") {
		t.Error("summary has an environment table without environments")
	}
}

func TestResultsRoundTrip(t *testing.T) {
	images, _ := runFixture(t)
	for _, im := range images {
		im.Layout = "/tmp/layouts/" + im.Service
	}
	// download-artifact puts each artifact in a directory of its own name.
	root := t.TempDir()
	for _, im := range images {
		if err := WriteResults(filepath.Join(root, "result-"+im.Service, "nested"), []*Image{im}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "README.txt"), []byte("not a result"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResults(root)
	if err != nil {
		t.Fatal(err)
	}
	if names := services(got); !slices.Equal(names, []string{"api", "cart", "docs", "web"}) {
		t.Fatalf("read %v, want every result sorted by service", names)
	}
	for _, g := range got {
		want := *imageByService(t, images, g.Service)
		want.Layout = "" // layouts are local to the job that built them
		if !reflect.DeepEqual(normalized(t, g), normalized(t, &want)) {
			t.Errorf("%s read back as\n%+v\nwant\n%+v", g.Service, g, &want)
		}
	}
	cart := imageByService(t, got, "cart")
	if cart.Report == nil || len(cart.Report.Findings) != 2 || !cart.BuiltAt.Equal(testNow) || !slices.Equal(cart.Blocked, []string{"prod"}) || cart.Verdicts[1].Outcome != gate.Block {
		t.Errorf("cart read back without its report, time or verdicts: %+v", cart)
	}
	// The result keeps enough for the write-back: same updates either way.
	if a, b := Updates(got, true), Updates(images, true); !slices.EqualFunc(a, b, func(x, y gitops.Update) bool {
		return x.Service == y.Service && x.Digest == y.Digest && x.Tag == y.Tag && *x.Source == *y.Source && x.At.Equal(y.At)
	}) {
		t.Errorf("updates from results = %+v, from the build = %+v", a, b)
	}
}

// normalized is the JSON value of im: what a result file can carry.
func normalized(t *testing.T, im *Image) any {
	t.Helper()
	b, err := json.Marshal(im)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReadResultsErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr []string
	}{
		{"empty dir", nil, []string{"no result files"}},
		{"only other files", map[string]string{"a/notes.txt": "x"}, []string{"no result files"}},
		{"JSON that is not a result", map[string]string{"a/sbom.json": `{"bomFormat":"CycloneDX"}`}, []string{filepath.Join("a", "sbom.json"), "not an automator build result"}},
		{"result without a digest", map[string]string{"web.json": `{"service":"web"}`}, []string{"web.json", "no service or digest"}},
		{"malformed JSON", map[string]string{"r/web.json": `{"service":`}, []string{filepath.Join("r", "web.json")}},
		{"a JSON array", map[string]string{"list.json": `[]`}, []string{"list.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadResults(dir)
			if err == nil {
				t.Fatalf("ReadResults = %v, want an error", services(got))
			}
			for _, w := range append(tt.wantErr, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ReadResults(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ReadResults of a missing directory succeeded")
	}
}

func TestWriteResultsErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteResults(filepath.Join(file, "results"), []*Image{{Service: "web", Digest: "sha256:w"}}); err == nil {
		t.Error("WriteResults under a regular file succeeded")
	}
}

// Holds and freeze windows show in the job summary's environment row and in
// the printed result, instead of "nothing to change".
func TestHeldAndFrozenAreReported(t *testing.T) {
	until := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	res := &gitops.Result{Env: "prod", Repo: "acme/manifests", Branch: "main", Mode: "commit",
		Held:   []gitops.Held{{Service: "payments", Reason: "held by alice: INC-1"}},
		Frozen: &gitops.Freeze{Until: until, Reason: "weekend"}}
	md := SummaryMarkdown(nil, []EnvOutcome{{Env: "prod", Result: res}})
	for _, want := range []string{"| prod | no change; held: payments (held by alice: INC-1); frozen until 2026-11-30T08:00:00Z |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	var b strings.Builder
	PrintResult(&b, res, false)
	out := b.String()
	for _, want := range []string{"prod: payments held, not promoted: held by alice: INC-1", "prod: in a freeze window until 2026-11-30T08:00:00Z weekend: nothing committed"} {
		if !strings.Contains(out, want) {
			t.Errorf("printed result lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nothing to change") {
		t.Errorf("a held, frozen environment is reported as already running the images:\n%s", out)
	}
}
