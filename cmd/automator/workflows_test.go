package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

// TestExampleWorkflows runs actionlint on every example workflow in
// testdata/workflows and checks that each step using this action passes only
// inputs that action.yml declares.
func TestExampleWorkflows(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "workflows", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example workflows found: %v", err)
	}
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}

	inputs := actionInputs(t)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Uses string         `yaml:"uses"`
					With map[string]any `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(raw, &wf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		uses := 0
		for job, j := range wf.Jobs {
			for i, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "deployment-automator/automator@") {
					continue
				}
				uses++
				for k := range s.With {
					if !inputs[k] {
						t.Errorf("%s: jobs.%s.steps[%d]: input %q is not declared in action.yml", filepath.Base(f), job, i, k)
					}
				}
			}
		}
		if uses == 0 {
			t.Errorf("%s does not use the action", filepath.Base(f))
		}
	}
}

func actionInputs(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]any `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for k := range action.Inputs {
		out[k] = true
	}
	return out
}
