package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/deployment-automator/automator/internal/actions"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return out.String(), errb.String(), code
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "automator.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nservices:\n  - name: a\n    context: nope\n    image: r/a\n    tag: x\nbuild: {parallelism: many}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"version", []string{"version"}, 0, nil},
		{"unknown command", []string{"frobnicate"}, 2, []string{"unknown command", "automator --help"}},
		{"unknown flag", []string{"version", "--frob"}, 2, []string{"unknown flag"}},
		{"bad log level", []string{"--log-level", "loud", "version"}, 2, []string{"invalid log level"}},
		{"config with three problems", []string{"config", "validate", "--config", bad}, 2, []string{
			"automator.yaml:6:5: services[0].tag: unknown key",
			"automator.yaml:7:22: build.parallelism: expected an integer",
			"automator.yaml:4:5: services[0].context: path \"nope\" does not exist",
		}},
		{"missing config", []string{"config", "validate", "--config", filepath.Join(dir, "missing.yaml")}, 1, []string{"reading config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestEverySubcommandHasExamples(t *testing.T) {
	a := &app{getenv: func(string) string { return "" }}
	root := newRootCmd(a)
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("automator %s has no examples in --help", c.Name())
		}
		for _, sub := range c.Commands() {
			if strings.TrimSpace(sub.Example) == "" {
				t.Errorf("automator %s %s has no examples in --help", c.Name(), sub.Name())
			}
		}
	}
}

func TestActionInputsBecomeArgs(t *testing.T) {
	a := &app{getenv: func(string) string { return "" }}
	root := newRootCmd(a)
	env := map[string]string{
		"INPUT_COMMAND":   "config validate",
		"INPUT_CONFIG":    ".github/automator.yaml",
		"INPUT_LOG-LEVEL": "debug",
		"INPUT_DRY-RUN":   "true", // config validate has no --dry-run: dropped
		"INPUT_ARGS":      "--log-format json",
	}
	got := strings.Join(actionArgs(root, func(k string) string { return env[k] }), " ")
	want := "config validate --config .github/automator.yaml --log-level debug --log-format json"
	if got != want {
		t.Errorf("actionArgs = %q, want %q", got, want)
	}
	getenv := actions.Env(func(k string) string { return map[string]string{"INPUT_GITHUB-TOKEN": "tok-from-input"}[k] })
	if getenv("GITHUB_TOKEN") != "tok-from-input" {
		t.Error("github-token input does not stand in for GITHUB_TOKEN")
	}
}

// TestActionInputsDocumented keeps README's inputs and outputs tables in step
// with action.yml.
func TestActionInputsDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs  yaml.Node `yaml:"inputs"`
		Outputs yaml.Node `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("| input | default | description |\n|---|---|---|\n")
	for i := 0; i+1 < len(action.Inputs.Content); i += 2 {
		var in struct{ Description, Default string }
		if err := action.Inputs.Content[i+1].Decode(&in); err != nil {
			t.Fatal(err)
		}
		def := ""
		if in.Default != "" {
			def = "`" + in.Default + "`"
		}
		b.WriteString("| `" + action.Inputs.Content[i].Value + "` | " + def + " | " + strings.ReplaceAll(in.Description, "|", "\\|") + " |\n")
	}
	b.WriteString("\n| output | description |\n|---|---|\n")
	for i := 0; i+1 < len(action.Outputs.Content); i += 2 {
		var out struct{ Description string }
		if err := action.Outputs.Content[i+1].Decode(&out); err != nil {
			t.Fatal(err)
		}
		b.WriteString("| `" + action.Outputs.Content[i].Value + "` | " + strings.ReplaceAll(out.Description, "|", "\\|") + " |\n")
	}
	const start, end = "<!-- action-io:start -->\n", "<!-- action-io:end -->"
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
	want := s[:i+len(start)] + b.String() + s[j:]
	if os.Getenv("UPDATE_SCHEMA") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Fatal("README.md action inputs/outputs are out of date with action.yml: run make schema")
	}
}
