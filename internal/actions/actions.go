// Package actions writes the files GitHub Actions reads back after a step:
// step outputs (GITHUB_OUTPUT) and the job summary (GITHUB_STEP_SUMMARY).
//
// Outputs are appended in the multi-line form
//
//	name<<ghadelimiter_<random>
//	value
//	ghadelimiter_<random>
//
// with a fresh random delimiter per value that is checked not to occur in the
// value, so no output value — JSON, a file list, text from a commit message —
// can end its own entry early and inject another output. This is the same
// format @actions/core uses.
package actions

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Output is one step output.
type Output struct {
	Name  string
	Value string
}

// FormatOutput renders one output entry with a collision-proof delimiter.
func FormatOutput(o Output) (string, error) {
	if o.Name == "" || strings.ContainsAny(o.Name, "\r\n=<") {
		return "", fmt.Errorf("invalid output name %q", o.Name)
	}
	for range 8 {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("generating output delimiter: %w", err)
		}
		delim := "ghadelimiter_" + hex.EncodeToString(b[:])
		if strings.Contains(o.Value, delim) {
			continue
		}
		return o.Name + "<<" + delim + "\n" + o.Value + "\n" + delim + "\n", nil
	}
	return "", fmt.Errorf("output %q: could not find a delimiter absent from its value", o.Name)
}

// WriteOutputs appends outputs, in order, to the file at path (the value of
// GITHUB_OUTPUT). Nothing is written when any output is invalid.
func WriteOutputs(path string, outputs ...Output) error {
	if path == "" {
		return errors.New("writing step outputs: no output file (GITHUB_OUTPUT is empty)")
	}
	var b strings.Builder
	for _, o := range outputs {
		s, err := FormatOutput(o)
		if err != nil {
			return fmt.Errorf("writing step outputs to %s: %w", path, err)
		}
		b.WriteString(s)
	}
	return appendFile(path, b.String())
}

// AppendSummary appends markdown to the job summary file at path (the value of
// GITHUB_STEP_SUMMARY), ending it with a newline.
func AppendSummary(path, markdown string) error {
	if path == "" {
		return errors.New("writing job summary: no summary file (GITHUB_STEP_SUMMARY is empty)")
	}
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	return appendFile(path, markdown)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		_ = f.Close()
		return fmt.Errorf("appending to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

// ParseOutputs reads a GITHUB_OUTPUT file back into a map, understanding both
// the name=value and the name<<DELIMITER forms. Tests and the fan-out flow use
// it to read outputs the way the runner does.
func ParseOutputs(data string) (map[string]string, error) {
	res := map[string]string{}
	lines := strings.Split(data, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			closed := false
			for i++; i < len(lines); i++ {
				l := strings.TrimSuffix(lines[i], "\r")
				if l == delim {
					closed = true
					break
				}
				val = append(val, l)
			}
			if !closed {
				return nil, fmt.Errorf("output %q: delimiter %q never closes", name, delim)
			}
			res[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is neither name=value nor name<<delimiter", i+1, line)
		}
		res[name] = val
	}
	return res, nil
}

// Step is the file commands of the running step, with the scrubber every
// value passes through before it reaches the runner's files: outputs are
// read by later steps and the summary is shown to anyone who can see the
// run, so neither may carry a secret a builder or an error printed. An empty
// path means the runner did not provide that file (outside Actions): writes
// to it are skipped.
type Step struct {
	// OutputPath is $GITHUB_OUTPUT; SummaryPath is $GITHUB_STEP_SUMMARY.
	OutputPath, SummaryPath string
	// Scrub replaces secrets in a value (logging.Redactor.Redact); nil
	// writes values unchanged.
	Scrub func(string) string
}

func (s Step) scrub(v string) string {
	if s.Scrub == nil {
		return v
	}
	return s.Scrub(v)
}

// WriteOutputs scrubs each value and appends the outputs to OutputPath.
func (s Step) WriteOutputs(outputs ...Output) error {
	if s.OutputPath == "" {
		return nil
	}
	scrubbed := make([]Output, len(outputs))
	for i, o := range outputs {
		scrubbed[i] = Output{Name: o.Name, Value: s.scrub(o.Value)}
	}
	return WriteOutputs(s.OutputPath, scrubbed...)
}

// AppendSummary scrubs markdown and appends it to SummaryPath.
func (s Step) AppendSummary(markdown string) error {
	if s.SummaryPath == "" {
		return nil
	}
	return AppendSummary(s.SummaryPath, s.scrub(markdown))
}

// Publish is a command's one write to the runner: the step outputs, then the
// job summary, each skipped when empty (so a command with nothing to say
// leaves the files untouched) and each scrubbed.
func (s Step) Publish(outputs []Output, summary string) error {
	if len(outputs) > 0 {
		if err := s.WriteOutputs(outputs...); err != nil {
			return err
		}
	}
	if summary != "" {
		return s.AppendSummary(summary)
	}
	return nil
}
