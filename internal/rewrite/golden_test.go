package rewrite

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/expected from the current output (review every file by eye)")

// goldenSpec is testdata/<case>/updates.yaml.
type goldenSpec struct {
	Set         []string          `yaml:"set"`
	Paths       []ImagePaths      `yaml:"paths"`
	SharedTags  []string          `yaml:"sharedTags"`
	Policies    map[string]string `yaml:"policies"`
	Services    map[string]string `yaml:"services"`
	MarkersOnly bool              `yaml:"markersOnly"`
	Kustomize   string            `yaml:"kustomize"`
	Quote       string            `yaml:"quote"`
	// Insert lists repositories kustomize entries may be added for.
	Insert []string `yaml:"insert"`
	// Skipped lists "file: path" pairs that must be reported in Result.Skipped.
	Skipped []string `yaml:"skipped"`
	// SkipFiles lists files that must be skipped whole (Helm templates).
	SkipFiles []string `yaml:"skipFiles"`
}

func (s goldenSpec) build(t testing.TB) ([]Update, []Option) {
	t.Helper()
	var ups []Update
	for _, x := range s.Set {
		u, err := ParseUpdate(x)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, u)
	}
	var opts []Option
	for _, p := range s.Paths {
		opts = append(opts, WithImagePaths(p))
	}
	for _, p := range s.SharedTags {
		opts = append(opts, WithSharedTag(p))
	}
	for name, ref := range s.Policies {
		u, err := ParseUpdate(ref)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithPolicy(name, u))
	}
	for svc, repo := range s.Services {
		opts = append(opts, WithService(svc, repo))
	}
	if s.MarkersOnly {
		opts = append(opts, WithMarkersOnly())
	}
	if s.Kustomize == "combined" {
		opts = append(opts, WithKustomizeDigestMode(KustomizeCombined))
	}
	if len(s.Insert) > 0 {
		opts = append(opts, WithInsert(s.Insert...))
	}
	if s.Quote == "single" {
		opts = append(opts, WithQuote('\''))
	}
	return ups, opts
}

func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		dir := filepath.Join("testdata", c.Name())
		if _, err := os.Stat(filepath.Join(dir, "updates.yaml")); err != nil {
			continue
		}
		n++
		t.Run(c.Name(), func(t *testing.T) { runGolden(t, dir) })
	}
	if n < 20 {
		t.Fatalf("found only %d golden cases", n)
	}
}

func readSpec(t testing.TB, dir string) goldenSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "updates.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var s goldenSpec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s/updates.yaml: %v", dir, err)
	}
	return s
}

func runGolden(t *testing.T, dir string) {
	spec := readSpec(t, dir)
	ups, opts := spec.build(t)
	orig := filepath.Join(dir, "original")
	var skipped, skipFiles []string
	err := filepath.WalkDir(orig, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(orig, p)
		in, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out, res, err := Rewrite(filepath.ToSlash(rel), in, ups, opts...)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		for _, s := range res.Skipped {
			skipped = append(skipped, rel+": "+s.Path)
		}
		if res.SkipReason != "" {
			skipFiles = append(skipFiles, rel)
		}
		expPath := filepath.Join(dir, "expected", rel)
		if *update {
			if err := os.MkdirAll(filepath.Dir(expPath), 0o755); err != nil {
				return err
			}
			return os.WriteFile(expPath, out, 0o644)
		}
		want, err := os.ReadFile(expPath)
		if err != nil {
			return err
		}
		if !bytes.Equal(out, want) {
			t.Errorf("%s: output differs from expected:\n%s", rel, UnifiedDiff("expected", "actual", want, out))
		}
		checkOnlyValueLines(t, rel, in, want, res)
		// Idempotence: rewriting the result again changes nothing.
		again, res2, err := Rewrite(filepath.ToSlash(rel), out, ups, opts...)
		if err != nil || !bytes.Equal(again, out) || res2.Changed() {
			t.Errorf("%s: second rewrite not idempotent (err %v, changes %+v)", rel, err, res2.Changes)
		}
		if bytes.Equal(in, want) != !res.Changed() {
			t.Errorf("%s: Changed()=%v but bytes equal=%v", rel, res.Changed(), bytes.Equal(in, want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(skipped)
	slices.Sort(spec.Skipped)
	if !slices.Equal(skipped, spec.Skipped) && !(len(skipped) == 0 && len(spec.Skipped) == 0) {
		t.Errorf("skipped = %q, want %q", skipped, spec.Skipped)
	}
	slices.Sort(skipFiles)
	slices.Sort(spec.SkipFiles)
	if !slices.Equal(skipFiles, spec.SkipFiles) && !(len(skipFiles) == 0 && len(spec.SkipFiles) == 0) {
		t.Errorf("skipped files = %q, want %q", skipFiles, spec.SkipFiles)
	}
}

// checkOnlyValueLines asserts that the line diff between original and
// expected touches only the lines of reported changes: every added line is a
// changed value's line (or, for an inserted kustomize entry, one of its key
// lines right above the value), nothing is deleted without a replacement,
// and every reported change shows in the diff. A removed field (a stale
// kustomize digest) accounts for one deleted line.
func checkOnlyValueLines(t *testing.T, file string, orig, want []byte, res Result) {
	t.Helper()
	ops := myers(splitLines(orig), splitLines(want))
	changeLines := map[int]bool{}
	inserted := map[int]bool{}
	replaced, removed := 0, 0
	for _, c := range res.Changes {
		if c.Removed {
			removed++ // its line is gone from want: counted among the deletions
			continue
		}
		changeLines[c.Line] = true
		if c.Old == "" && c.Field != "" {
			inserted[c.Line] = true
		}
		if c.Old != "" {
			replaced++
		}
	}
	plus := map[int]bool{}
	minus := 0
	for _, o := range ops {
		switch o.kind {
		case '+':
			line := o.bi + 1
			plus[line] = true
			near := changeLines[line] || inserted[line+1] || inserted[line+2] || inserted[line+3]
			if !near {
				t.Errorf("%s: line %d changed but is no changed value: %q", file, line, o.text)
			}
		case '-':
			minus++
		}
	}
	if minus > replaced+len(inserted)+removed {
		t.Errorf("%s: %d lines removed but only %d values replaced", file, minus, replaced)
	}
	for l := range changeLines {
		if !plus[l] {
			t.Errorf("%s: change reported at line %d but the line did not change", file, l)
		}
	}
}

// mustRewrite is a helper for table tests.
func mustRewrite(t *testing.T, file, in string, ups []Update, opts ...Option) (string, Result) {
	t.Helper()
	out, res, err := Rewrite(file, []byte(in), ups, opts...)
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	return string(out), res
}
