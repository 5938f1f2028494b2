package rewrite

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

var unusualBreaks = regexp.MustCompile("\r[^\n]|\r$|\u0085|\u2028|\u2029")

var fuzzRepos = []string{"ghcr.io/acme/api", "nginx", "redis", "ghcr.io/acme/app", "bespinian/awesome-image", "10.42.0.1:30000/test-image", "docker.io/bitnami/nginx"}
var fuzzTags = []string{"1.10", "v2", "11", "true", "2.0.0-rc.1"}

// FuzzRewrite checks, for any input that parses: the output parses, only the
// lines of reported changes differ (plus inserted kustomize lines), every
// YAML value other than the changed ones and every comment is unchanged, and
// a second rewrite is a no-op.
func FuzzRewrite(f *testing.F) {
	_ = filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != "expected" && filepath.Ext(p) != ".md" {
			if b, err := os.ReadFile(p); err == nil && len(b) < 8000 {
				f.Add(b, uint8(len(b)), false)
				f.Add(b, uint8(len(b)+1), true)
			}
		}
		return nil
	})
	f.Add([]byte("image: nginx:1.0\n"), uint8(0), false)
	f.Add([]byte("images:\n- name: nginx\n  newTag: 1\n"), uint8(1), true)
	f.Add([]byte("a: &x {repository: redis, tag: 1}\nb: *x\n"), uint8(2), false)
	f.Fuzz(func(t *testing.T, in []byte, pick uint8, kustomization bool) {
		name := "values.yaml"
		if kustomization {
			name = "kustomization.yaml"
		}
		var ups []Update
		for i, r := range fuzzRepos {
			if pick&(1<<(i%8)) != 0 || i == int(pick)%len(fuzzRepos) {
				u := Update{Repository: r, Tag: fuzzTags[(int(pick)+i)%len(fuzzTags)]}
				if (int(pick)+i)%3 == 0 {
					u.Digest = d1
				}
				ups = append(ups, u)
			}
		}
		docs, perr := parseDocs(name, in)
		var opts []Option
		if kustomization {
			opts = append(opts, WithInsert(fuzzRepos...))
		}
		out, res, err := Rewrite(name, in, ups, opts...)
		if perr != nil {
			if err == nil {
				t.Fatalf("unparseable input accepted")
			}
			return
		}
		if err != nil {
			if !bytes.Equal(out, in) {
				t.Fatalf("output changed on error %v", err)
			}
			return
		}
		docs2, err := parseDocs(name, out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		if len(docs2) != len(docs) {
			t.Fatalf("document count %d → %d", len(docs), len(docs2))
		}
		if bytes.Equal(in, out) != !res.Changed() {
			t.Fatalf("Changed()=%v but bytes equal=%v", res.Changed(), bytes.Equal(in, out))
		}
		changed := map[string]bool{}
		inserted, removed := false, false
		for _, c := range res.Changes {
			removed = removed || c.Removed
			changed[fmt.Sprintf("%d/%s", c.Doc, c.Path)] = true
			if c.Old == "" && (c.Field == "tag" || c.Field == "digest") {
				inserted = true
			}
		}
		for i := range docs {
			if !inserted && !removed {
				compareTrees(t, docs[i], docs2[i], fmt.Sprint(i), "", changed, inserted)
			}
		}
		if unusualBreaks.Match(in) {
			return // lines counted by YAML (CR, NEL, LS, PS) differ from diff lines (LF)
		}
		checkOnlyValueLines(t, name, in, out, res)
		if !inserted && !removed {
			a, b := splitLines(in), splitLines(out)
			lines := map[int]bool{}
			for _, c := range res.Changes {
				lines[c.Line] = true
			}
			if len(a) != len(b) {
				t.Fatalf("line count %d → %d without insertions", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] && !lines[i+1] {
					t.Fatalf("line %d changed without a reported change: %q → %q", i+1, a[i], b[i])
				}
			}
		}
		again, res2, err := Rewrite(name, out, ups, opts...)
		if err != nil || !bytes.Equal(again, out) || res2.Changed() {
			t.Fatalf("not idempotent: %v %+v\n%s", err, res2.Changes, out)
		}
	})
}

// compareTrees walks two parses in step. Scalars may differ only at changed
// paths; comments and structure must match. Kustomize insertions may add
// mapping keys and sequence items, and an images key, at the end.
func compareTrees(t *testing.T, a, b *yaml.Node, doc, path string, changed map[string]bool, inserted bool) {
	t.Helper()
	if a.Kind != b.Kind && !(inserted && a.Kind == yaml.ScalarNode && a.Tag == "!!null" && b.Kind == yaml.SequenceNode) &&
		!(inserted && a.Kind == yaml.SequenceNode && len(a.Content) == 0 && b.Kind == yaml.SequenceNode) {
		t.Fatalf("%s: kind %d → %d", path, a.Kind, b.Kind)
	}
	if !inserted && (a.HeadComment != b.HeadComment || a.FootComment != b.FootComment) {
		t.Fatalf("%s: comments changed: %q/%q → %q/%q", path, a.HeadComment, a.FootComment, b.HeadComment, b.FootComment)
	}
	if !changed[doc+"/"+path] && a.LineComment != b.LineComment && !inserted {
		t.Fatalf("%s: line comment changed: %q → %q", path, a.LineComment, b.LineComment)
	}
	switch a.Kind {
	case yaml.ScalarNode:
		if a.Value != b.Value && !changed[doc+"/"+path] {
			t.Fatalf("%s: value %q → %q but not reported", path, a.Value, b.Value)
		}
		if a.Anchor != b.Anchor {
			t.Fatalf("%s: anchor changed", path)
		}
	case yaml.AliasNode:
		if a.Value != b.Value {
			t.Fatalf("%s: alias changed", path)
		}
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		if len(b.Content) < len(a.Content) || (len(b.Content) != len(a.Content) && !inserted) {
			t.Fatalf("%s: %d children → %d", path, len(a.Content), len(b.Content))
		}
		for i := range a.Content {
			p := path
			switch a.Kind {
			case yaml.MappingNode:
				if i%2 == 1 {
					p = joinPath(path, a.Content[i-1].Value)
				} else {
					p = joinPath(path, a.Content[i].Value) + "#key"
				}
			case yaml.SequenceNode:
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			compareTrees(t, a.Content[i], b.Content[i], doc, p, changed, inserted)
		}
	}
}

// FuzzMerges covers aliases and nested merge keys: any input finishes with
// merge work bounded by the square of its size (each mapping is flattened
// once), and on success no image site that no update names resolves to
// anything new, and a second rewrite is a no-op.
func FuzzMerges(f *testing.F) {
	f.Add([]byte(nestedMerges(10, 10)), uint8(0))
	f.Add([]byte(nestedMerges(3, 2)), uint8(1))
	f.Add([]byte("version: &v \"1.0.0\"\ncart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: *v\nother:\n  image:\n    repository: ghcr.io/acme/other\n    tag: *v\n"), uint8(0))
	f.Add([]byte("defaults: &d\n  tag: 1.0.0\ncart:\n  <<: *d\n  repository: ghcr.io/acme/cart\nother:\n  <<: [*d, *d]\n  repository: ghcr.io/acme/other\n"), uint8(2))
	f.Add([]byte("a: &a {repository: ghcr.io/acme/cart, tag: 1}\nb: &b {<<: [*a, *a], digest: \"\"}\nc: {<<: [*b, *a], image: *a}\nd: [*a, *b]\n"), uint8(3))
	f.Add([]byte("images:\n- &e {name: ghcr.io/acme/cart, newTag: 1}\n- *e\n- name: ghcr.io/acme/other\n  <<: *e\n"), uint8(4))
	f.Fuzz(func(t *testing.T, in []byte, pick uint8) {
		if len(in) > 4096 {
			return
		}
		name := "values.yaml"
		if pick&4 != 0 {
			name = "kustomization.yaml"
		}
		ups := []Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}}
		if pick&1 != 0 {
			ups[0].Digest = d1
		}
		if pick&2 != 0 {
			ups = append(ups, Update{Repository: "ghcr.io/acme/other", Tag: "3.0.0"})
		}
		docs, perr := parseDocs(name, in)
		if perr != nil {
			return
		}
		var steps int
		out, _, err := Rewrite(name, in, ups, withIndexStats(&steps))
		if bound := len(in)*len(in) + len(in); steps > bound {
			t.Fatalf("merge work %d exceeds %d for %d bytes", steps, bound, len(in))
		}
		if err != nil {
			if !bytes.Equal(out, in) {
				t.Fatalf("output changed on error %v", err)
			}
			return
		}
		docs2, err := parseDocs(name, out)
		if err != nil || len(docs2) != len(docs) {
			t.Fatalf("output does not parse back: %v\n%s", err, out)
		}
		if err := verifySites(name, docs, docs2, ups, newIndex(0), newIndex(0)); err != nil && !bytes.Contains(in, []byte("automator:")) && !bytes.Contains(in, []byte("$imagepolicy")) {
			t.Fatalf("another image changed: %v\n%s", err, out)
		}
		again, res2, err := Rewrite(name, out, ups)
		if err != nil || !bytes.Equal(again, out) || res2.Changed() {
			t.Fatalf("not idempotent: %v %+v\n%s", err, res2.Changes, out)
		}
	})
}
