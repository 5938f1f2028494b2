package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadReportsAllProblemsWithPositions(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "repo", "three-mistakes.yaml"))
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("want *config.Error, got %v", err)
	}
	want := []string{
		"testdata/repo/three-mistakes.yaml:6:5: services[0].pahts: unknown key \"pahts\" (did you mean \"paths\"?)",
		"testdata/repo/three-mistakes.yaml:11:16: build.parallelism: expected an integer, got the string \"four\"",
		"testdata/repo/three-mistakes.yaml:8:5: services[1].context: path \"src/checkout\" does not exist",
	}
	if len(cerr.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(cerr.Problems), len(want), err)
	}
	for i, p := range cerr.Problems {
		if p.String() != want[i] {
			t.Errorf("problem %d:\n got %s\nwant %s", i, p, want[i])
		}
	}
}

func TestLoadValidAppliesDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "repo", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Build.Parallelism; got != 2 {
		t.Errorf("build.parallelism default = %d, want 2", got)
	}
	if got := cfg.Build.Tags; len(got) != 1 || got[0] != "sha-{{ .ShortSHA }}" {
		t.Errorf("build.tags default = %q", got)
	}
	if got := cfg.Environments[1].Mode; got != "pull-request" {
		t.Errorf("environments[1].mode default = %q", got)
	}
	if got := cfg.Environments[0].Mode; got != "commit" {
		t.Errorf("explicit mode overwritten: %q", got)
	}
	if !cfg.ScanEnabled() {
		t.Error("scan should be enabled by default")
	}
	if got := cfg.GatePolicy(&cfg.Environments[1]).FailOn; len(got) != 2 {
		t.Errorf("prod gate failOn = %v", got)
	}
	if got := cfg.GatePolicy(&cfg.Environments[0]); got.Mode != "block" || got.FailOn[0] != "CRITICAL" {
		t.Errorf("default gate = %+v", got)
	}
	if p := cfg.Pos("services[0].paths"); p.Line != 6 {
		t.Errorf("position of services[0].paths = %+v", p)
	}
}

func TestParseProblems(t *testing.T) {
	repo := fstest.MapFS{
		"src/a/Dockerfile": {Data: []byte("FROM scratch\n")},
		"src/b/Dockerfile": {Data: []byte("FROM scratch\n")},
		"src/nodf/x.txt":   {Data: []byte("x")},
		"README.md":        {Data: []byte("x")},
	}
	tests := []struct {
		name string
		in   string
		want []string // substrings, one per problem, in order
	}{
		{"empty file", ``, []string{"the file is empty"}},
		{"syntax error", "version: 1\nservices: [\n", []string{"YAML syntax"}},
		{"missing version", "services: []\n", []string{`missing required key "version"`}},
		{"wrong version", "version: 2\n", []string{"unsupported version 2"}},
		{"unknown top key far from any", "version: 1\nzzzzzzzz: 1\n", []string{"expected one of:"}},
		{"top level not a mapping", "- a\n", []string{"expected a mapping, got a list"}},
		{"list expected", "version: 1\nservices: cart\n", []string{`expected a list, got the string "cart"`}},
		{"bool expected", "version: 1\nregistries: [{host: h, insecure: yes please}]\n", []string{"expected a boolean"}},
		{"enum", "version: 1\nbuild: {builder: podman}\n", []string{`invalid value "podman": expected one of auto, buildah, docker`}},
		{"enum items", "version: 1\nscan: {policy: {failOn: [CRITICAL, SEVERE]}}\n", []string{`scan.policy.failOn[1]: invalid value "SEVERE"`}},
		{"minimum", "version: 1\nbuild: {parallelism: 0}\n", []string{"must be at least 1"}},
		{"retryFor not a duration", "version: 1\nenvironments: [{name: dev, repo: a/b, files: [v.yaml], retryFor: soon}]\n", []string{`environments[0].retryFor: want a positive Go duration such as 5m, got "soon"`}},
		{"retryFor is a duration", "version: 1\nenvironments: [{name: dev, repo: a/b, files: [v.yaml], retryFor: 90s}]\n", nil},
		{"sign without a key", "version: 1\nsign: {attest: false}\n", []string{"sign: set keyFile or keyEnv: keyless signing is not supported yet"}},
		{"sign with a key env", "version: 1\nsign: {keyEnv: COSIGN_KEY}\n", nil},
		{"verify without keys", "version: 1\nenvironments: [{name: dev, repo: a/b, files: [v.yaml], verify: {keys: []}}]\n", []string{"environments[0].verify.keys: list at least one public key"}},
		{"verify attestation age", "version: 1\nenvironments: [{name: dev, repo: a/b, files: [v.yaml], verify: {keys: [k.pub], attestations: [{type: vuln, maxAge: 7d}]}}]\n", []string{`environments[0].verify.attestations[0].maxAge: want a positive Go duration such as 168h, got "7d"`}},
		{"verify attestation without type", "version: 1\nenvironments: [{name: dev, repo: a/b, files: [v.yaml], verify: {keys: [k.pub], attestations: [{maxAge: 1h}]}}]\n", []string{`attestations[0].type: missing required key "type"`}},
		{"duplicate key", "version: 1\nversion: 1\n", []string{"duplicate key"}},
		{"freeze windows", `version: 1
environments:
  - name: prod
    repo: a/b
    files: [v.yaml]
    freeze:
      - {start: "0 18 * * 5", duration: 63h, timeZone: Europe/Berlin, reason: weekend}
      - {start: "0 18 * * 5", duration: 1h, timeZone: Mars/Olympus}
      - {start: "0 18 * * 5", duration: -1h}
      - {start: "0 18 * * 5", duration: 0s}
      - {start: "every friday", duration: 1h}
`, []string{`automator.yaml:8:45: environments[0].freeze[1].timeZone: timeZone "Mars/Olympus": unknown time zone`,
			`environments[0].freeze[2].duration: duration "-1h": a window must last a positive time`,
			`environments[0].freeze[3].duration: duration "0s": a window must last a positive time`,
			`environments[0].freeze[4].start: start "every friday"`}},
		{"overlapping freeze windows", `version: 1
environments:
  - name: prod
    repo: a/b
    files: [v.yaml]
    freeze:
      - {start: "0 18 * * 5", duration: 63h}
      - {start: "0 8 * * 1", duration: 2h}
`, []string{`automator.yaml:6:5: environments[0].freeze: windows[0] starting`}},
		{"soak and minAge", `version: 1
environments:
  - {name: staging, repo: a/b, files: [v.yaml], soak: 1h}
  - {name: prod, repo: a/b, files: [v.yaml], promoteFrom: staging, soak: -2h}
watch:
  rules: [{name: x, image: r/x, policy: {semver: "1"}, environments: [prod], minAge: -1m}]
`, []string{"environments[0].soak: soak needs promoteFrom", `environments[1].soak: want a non-negative Go duration such as 24h, got "-2h"`,
			`watch.rules[0].minAge: want a non-negative Go duration such as 2h, got "-1m"`}},
		{"duplicate service and image", `version: 1
services:
  - {name: a, context: src/a, image: r/a}
  - {name: a, context: src/b, image: r/a}
`, []string{`duplicate service name "a"`, `image "r/a" is already used`}},
		{"image with tag", "version: 1\nservices: [{name: a, context: src/a, image: 'r/a:1'}]\n", []string{"without tag or digest"}},
		{"registry port is fine", "version: 1\nservices: [{name: a, context: src/a, image: 'localhost:5000/a'}]\n", nil},
		{"context is a file", "version: 1\nservices: [{name: a, context: README.md, image: r/a}]\n", []string{"is not a directory"}},
		{"context escapes", "version: 1\nservices: [{name: a, context: ../x, image: r/a}]\n", []string{"must be a path inside the repository"}},
		{"no dockerfile", "version: 1\nservices: [{name: a, context: src/nodf, image: r/a}]\n", []string{"no Dockerfile in"}},
		{"bad name", "version: 1\nservices: [{name: A B, context: src/a, image: r/a}]\n", []string{"must match"}},
		{"dependsOn unknown", "version: 1\nservices: [{name: a, context: src/a, image: r/a, dependsOn: [ghost]}]\n", []string{`"ghost" is neither a service nor an existing path`}},
		{"promoteFrom unknown and cycle", `version: 1
environments:
  - {name: a, repo: o/r, files: [x], promoteFrom: b}
  - {name: b, repo: o/r, files: [x], promoteFrom: a}
  - {name: c, repo: o/r, files: [x], promoteFrom: z}
`, []string{"promotion cycle", "promotion cycle", `unknown environment "z"`}},
		{"watch rules", `version: 1
environments: [{name: prod, repo: o/r, files: [x]}]
watch:
  interval: soon
  rules:
    - {name: p, image: r/p, policy: {semver: ">>1"}, environments: [prod, qa]}
    - {name: q, image: r/q, policy: {regex: "^main-(?P<ts>[0-9]+)$", extract: "$nope"}, environments: [prod]}
    - {name: s, image: r/s, policy: {}, environments: [prod]}
`, []string{"invalid duration", "invalid semver range", `unknown environment "qa"`, "names no group", "exactly one of semver"}},
		{"app key source", "version: 1\ngithub: {app: {id: 1}}\n", []string{"exactly one of privateKeyFile or privateKeyEnv"}},
		{"secret source", "version: 1\nservices: [{name: a, context: src/a, image: r/a, secrets: [{id: x}]}]\n", []string{"exactly one of env or file"}},
		{"alias and merge keys", `version: 1
x-env: &env {repo: o/r, files: [x], mode: commit}
environments:
  - {<<: *env, name: dev}
`, []string{`unknown key "x-env"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("automator.yaml", []byte(tt.in), repo)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("want *Error, got %v", err)
			}
			if len(cerr.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(cerr.Problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(cerr.Problems[i].String(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, cerr.Problems[i], w)
				}
				if cerr.Problems[i].Line == 0 {
					t.Errorf("problem %d has no line: %q", i, cerr.Problems[i])
				}
			}
		})
	}
}

func TestMergeKeysFillFields(t *testing.T) {
	in := `version: 1
environments:
  - &base {name: dev, repo: o/r, files: [x], mode: commit}
  - {<<: *base, name: qa}
`
	cfg, err := Parse("a.yaml", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Environments[1]; e.Name != "qa" || e.Mode != "commit" || e.Repo != "o/r" {
		t.Errorf("merged env = %+v", e)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	if _, err := Find(dir, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".github"), 0o755); err != nil {
		t.Fatal(err)
	}
	gh := filepath.Join(dir, ".github", "automator.yaml")
	if err := os.WriteFile(gh, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := Find(dir, ""); got != gh {
		t.Errorf("Find = %q, want %q", got, gh)
	}
	top := filepath.Join(dir, "automator.yaml")
	if err := os.WriteFile(top, []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := Find(dir, ""); got != top {
		t.Errorf("Find = %q, want %q (top level wins)", got, top)
	}
	if got, _ := Find(dir, "x.yaml"); got != "x.yaml" {
		t.Errorf("explicit path not used: %q", got)
	}
}

// TestSchemaInSync fails when schema/automator.schema.json differs from the
// schema generated from the Go types. Regenerate with `make schema`.
func TestSchemaInSync(t *testing.T) {
	want, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "schema", "automator.schema.json")
	if os.Getenv("UPDATE_SCHEMA") != "" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading shipped schema: %v (run make schema)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with internal/config types: run make schema", path)
	}
}

// TestReadmeReferenceInSync fails when README.md's configuration reference
// differs from the one generated from the Go types. Regenerate with `make schema`.
func TestReadmeReferenceInSync(t *testing.T) {
	const start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", start, end)
	}
	want := s[:i+len(start)] + Reference() + s[j:]
	if os.Getenv("UPDATE_SCHEMA") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Fatal("README.md configuration reference is out of date with internal/config types: run make schema")
	}
}

// The printed config is valid YAML that loads back to the same effective
// config, defaults included.
func TestWriteYAMLRoundTrips(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "repo", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cfg.WriteYAML(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\n  parallelism: 2\n") {
		t.Errorf("the default build.parallelism is missing or not indented by two:\n%s", out.String())
	}
	back, err := Parse(filepath.Join("testdata", "repo", "printed.yaml"), out.Bytes(), os.DirFS(filepath.Join("testdata", "repo")))
	if err != nil {
		t.Fatalf("the printed config does not parse: %v\n%s", err, out.String())
	}
	if len(back.Services) != len(cfg.Services) || len(back.Environments) != len(cfg.Environments) || back.Build.Parallelism != cfg.Build.Parallelism {
		t.Errorf("printed config lost content:\n%s", out.String())
	}
}

func TestErrorEachProblem(t *testing.T) {
	e := &Error{Problems: []Problem{
		{File: "a.yaml", Line: 2, Column: 3, Path: "scan.policy", Message: "unknown severity"},
		{File: "a.yaml", Path: "services", Message: "empty"},
	}}
	var got []string
	e.EachProblem(func(file string, line, col int, msg string) {
		got = append(got, fmt.Sprintf("%s:%d:%d %s", file, line, col, msg))
	})
	want := []string{"a.yaml:2:3 scan.policy: unknown severity", "a.yaml:0:0 services: empty"}
	if !slices.Equal(got, want) {
		t.Errorf("EachProblem() gave %q, want %q", got, want)
	}
}

func TestOpen(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join("testdata", "repo", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		files    map[string]string // relative to the working directory
		explicit string
		wantErr  error // nil: a config loads
	}{
		{name: "none", wantErr: ErrNotFound},
		{name: "default", files: map[string]string{"automator.yaml": string(valid)}},
		{name: "under .github", files: map[string]string{".github/automator.yaml": string(valid)}},
		{name: "explicit", files: map[string]string{"x.yaml": string(valid)}, explicit: "x.yaml"},
		{name: "explicit missing: the read error", explicit: "missing.yaml", wantErr: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// valid.yaml's service context, checked by Load.
			if err := os.CopyFS(filepath.Join(dir, "src"), os.DirFS(filepath.Join("testdata", "repo", "src"))); err != nil {
				t.Fatal(err)
			}
			files := fstest.MapFS{}
			for name, body := range tt.files {
				files[name] = &fstest.MapFile{Data: []byte(body)}
			}
			if err := os.CopyFS(dir, files); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			cfg, err := Open(tt.explicit)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || cfg == nil {
				t.Fatalf("Open() = %v, %v", cfg, err)
			}
		})
	}
}
