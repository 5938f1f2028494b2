package actions

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteOutputsRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		outputs []Output
	}{
		{"plain", []Output{{"any", "true"}}},
		{"json", []Output{{"services", `["a","b"]`}, {"matrix", `{"include":[{"service":"a"}]}`}}},
		{"multi-line", []Output{{"log", "line1\nline2\n\nline4"}}},
		{"injection attempt", []Output{{"msg", "x\nEOF\nany<<EOF\ninjected\nEOF\nghadelimiter_\n"}}},
		{"empty value", []Output{{"services", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(path, []byte("existing=1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := WriteOutputs(path, tt.outputs...); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseOutputs(string(data))
			if err != nil {
				t.Fatal(err)
			}
			if got["existing"] != "1" {
				t.Errorf("existing output lost: %q", data)
			}
			if len(got) != len(tt.outputs)+1 {
				t.Errorf("got %d outputs, want %d: %q", len(got), len(tt.outputs)+1, data)
			}
			for _, o := range tt.outputs {
				if got[o.Name] != o.Value {
					t.Errorf("output %q = %q, want %q", o.Name, got[o.Name], o.Value)
				}
			}
		})
	}
}

func TestWriteOutputsRejectsBadName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	for _, name := range []string{"", "a\nb", "a=b", "a<<b"} {
		if err := WriteOutputs(path, Output{"ok", "1"}, Output{name, "v"}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("file written despite invalid output: %v", err)
	}
	if err := WriteOutputs("", Output{"a", "b"}); err == nil {
		t.Error("empty path accepted")
	}
}

func TestDelimitersAreUnique(t *testing.T) {
	a, _ := FormatOutput(Output{"x", "v"})
	b, _ := FormatOutput(Output{"x", "v"})
	if a == b || !strings.HasPrefix(a, "x<<ghadelimiter_") {
		t.Errorf("delimiters not random: %q %q", a, b)
	}
}

func TestAppendSummary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.md")
	if err := AppendSummary(path, "# one"); err != nil {
		t.Fatal(err)
	}
	if err := AppendSummary(path, "| a | b |\n"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "# one\n| a | b |\n" {
		t.Errorf("summary = %q", data)
	}
}

// A Step scrubs every value it writes: output values and summary markdown
// alike, and writes nothing for a file the runner did not provide.
func TestStepScrubsOutputsAndSummary(t *testing.T) {
	dir := t.TempDir()
	s := Step{
		OutputPath:  filepath.Join(dir, "output"),
		SummaryPath: filepath.Join(dir, "summary"),
		Scrub:       func(v string) string { return strings.ReplaceAll(v, "hunter2-secret", "***") },
	}
	if err := s.WriteOutputs(Output{"images", `[{"reason":"printed hunter2-secret"}]`}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSummary("| svc | failed: hunter2-secret |"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.OutputPath, s.SummaryPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "***") {
			t.Errorf("%s not scrubbed:\n%s", filepath.Base(p), b)
		}
	}
	var none Step
	if err := none.WriteOutputs(Output{"any", "true"}); err != nil {
		t.Errorf("no output file: %v", err)
	}
	if err := none.AppendSummary("x"); err != nil {
		t.Errorf("no summary file: %v", err)
	}
}

func TestStepPublish(t *testing.T) {
	tests := []struct {
		name                    string
		outs                    []Output
		summary                 string
		wantOutput, wantSummary string // "" means the file is not created
	}{
		{"both", []Output{{"a", "1"}}, "# done\n", "\n***\n", "# done\n"},
		{"outputs only", []Output{{"a", "1"}}, "", "\n***\n", ""},
		{"summary only", nil, "# done\n", "", "# done\n"},
		{"nothing", nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := Step{OutputPath: filepath.Join(dir, "output"), SummaryPath: filepath.Join(dir, "summary"),
				Scrub: func(v string) string { return strings.ReplaceAll(v, "1", "***") }}
			if err := s.Publish(tt.outs, tt.summary); err != nil {
				t.Fatal(err)
			}
			for path, want := range map[string]string{s.OutputPath: tt.wantOutput, s.SummaryPath: tt.wantSummary} {
				b, err := os.ReadFile(path)
				switch {
				case want == "" && !errors.Is(err, os.ErrNotExist):
					t.Errorf("%s written (%v): %q", filepath.Base(path), err, b)
				case want != "" && (err != nil || !strings.Contains(string(b), want)):
					t.Errorf("%s = %q, %v; want it to contain %q", filepath.Base(path), b, err, want)
				}
			}
		})
	}
}
