package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultPaths are tried in order when no --config is given.
var DefaultPaths = []string{"automator.yaml", ".github/automator.yaml"}

// Problem is one mistake in a config file, located by file, line, column and
// key path so that editors, annotations and people can jump to it.
type Problem struct {
	File    string
	Line    int
	Column  int
	Path    string
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error carries every problem found in a config file at once. Commands map it
// to exit code 2.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid config: " + lines[0]
	}
	return fmt.Sprintf("invalid config (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// EachProblem calls f with each problem's place and "path: message", so
// that the problems can be annotated in GitHub Actions (logging.Located).
func (e *Error) EachProblem(f func(file string, line, col int, msg string)) {
	for _, p := range e.Problems {
		f(p.File, p.Line, p.Column, p.Path+": "+p.Message)
	}
}

// ErrNotFound is returned by Find when no config file exists at the default paths.
var ErrNotFound = errors.New("no config file found")

// Find returns the config path to use: explicit when set, else the first of
// DefaultPaths (relative to dir) that exists.
func Find(dir, explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	for _, p := range DefaultPaths {
		full := filepath.Join(dir, p)
		if _, err := os.Stat(full); err == nil {
			return full, nil
		}
	}
	return "", fmt.Errorf("looking for %s in %s: %w (pass --config FILE)", strings.Join(DefaultPaths, " or "), dir, ErrNotFound)
}

// Open loads the config the command line names: explicit when set, else
// the first of DefaultPaths in the working directory. It returns an error
// wrapping ErrNotFound when there is none, and Load's errors.
func Open(explicit string) (*Config, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding working directory: %w", err)
	}
	path, err := Find(wd, explicit)
	if err != nil {
		return nil, err
	}
	return Load(path)
}

// Load reads, strictly decodes, defaults and validates the config at path.
// The repository root (for checking service paths) is the file's directory,
// or its parent when the file lives in .github/.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	root := filepath.Dir(path)
	if filepath.Base(root) == ".github" {
		root = filepath.Dir(root)
	}
	return Parse(path, data, os.DirFS(root))
}

// Parse decodes data (named file in messages) and validates it against the
// repository tree repo; repo may be nil to skip checks on the file system.
func Parse(file string, data []byte, repo fs.FS) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, &Error{Problems: []Problem{{File: file, Line: 1, Column: 1, Message: "the file is empty: expected at least \"version: 1\""}}}
	} else if err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(file, err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Problems: []Problem{{File: file, Line: extra.Line, Column: extra.Column, Message: "expected one YAML document, found more"}}}
	}
	d := &decoder{file: file, pos: map[string]Position{}, present: map[string]bool{}}
	cfg := &Config{}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.DocumentNode {
		d.addf(root, "", "the file is empty: expected at least \"version: 1\"")
	} else {
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	cfg.source, cfg.pos, cfg.present, cfg.repo = file, d.pos, d.present, repo
	if len(d.problems) == 0 {
		applyDefaults(reflect.ValueOf(cfg).Elem(), "", d.present)
	}
	d.problems = append(d.problems, cfg.validate()...)
	if len(d.problems) > 0 {
		return nil, &Error{Problems: d.problems}
	}
	return cfg, nil
}

func yamlProblem(file string, err error) Problem {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	p := Problem{File: file, Message: "YAML syntax: " + msg}
	// yaml.v3 reports "line N: …".
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if n, err := strconv.Atoi(num); err == nil {
				p.Line, p.Column = n, 1
				p.Message = "YAML syntax:" + tail
			}
		}
	}
	return p
}

// applyDefaults fills fields carrying a default tag that the file did not set.
func applyDefaults(v reflect.Value, path string, present map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			applyDefaults(v.Elem(), path, present)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			applyDefaults(v.Index(i), fmt.Sprintf("%s[%d]", path, i), present)
		}
	case reflect.Struct:
		for _, f := range structFields(v.Type()) {
			fv := v.Field(f.index)
			p := joinPath(path, f.key)
			if f.def != "" && !present[p] {
				setDefault(fv, f.def)
			}
			applyDefaults(fv, p, present)
		}
	}
}

func setDefault(v reflect.Value, def string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(def)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(def, 10, 64)
		if err != nil {
			panic("config: bad default " + def)
		}
		v.SetInt(n)
	case reflect.Bool:
		v.SetBool(def == "true")
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		setDefault(nv.Elem(), def)
		v.Set(nv)
	case reflect.Slice:
		parts := strings.Split(def, ",")
		s := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			s.Index(i).SetString(p)
		}
		v.Set(s)
	default:
		panic("config: unsupported default on " + v.Kind().String())
	}
}

// WriteYAML writes the effective config — defaults filled in — as YAML
// indented by two spaces (`automator config print`).
func (c *Config) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("printing config: %w", err)
	}
	return enc.Close()
}
