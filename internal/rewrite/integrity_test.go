package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Tests for issue 13 ("Promotion integrity"): what lands is exactly what was
// asked, or a clear error.

// TestStaleDigest: a tag-only update never leaves a digest that pins another
// image. Kustomize entries lose the digest field (as `kustomize edit set
// image` does); Helm maps and explicit digest paths get an empty digest.
func TestStaleDigest(t *testing.T) {
	tagOnly := []Update{{Repository: "ghcr.io/acme/foo", Tag: "2.1.0"}}
	both := []Update{{Repository: "ghcr.io/acme/foo", Tag: "2.1.0", Digest: d2}}
	for _, tc := range []struct {
		name, file, in, want string
		ups                  []Update
		opts                 []Option
	}{
		{"kustomize entry drops digest", "kustomization.yaml",
			"images:\n  - name: ghcr.io/acme/foo\n    newTag: 1.0.0\n    digest: " + d1 + "\n  - name: other\n    newTag: x\n",
			"images:\n  - name: ghcr.io/acme/foo\n    newTag: 2.1.0\n  - name: other\n    newTag: x\n", tagOnly, nil},
		{"kustomize entry drops last-line digest without final newline", "kustomization.yaml",
			"images:\n- name: ghcr.io/acme/foo\n  newTag: 1.0.0\n  digest: " + d1,
			"images:\n- name: ghcr.io/acme/foo\n  newTag: 2.1.0", tagOnly, nil},
		{"kustomize digest first in entry is emptied", "kustomization.yaml",
			"images:\n- digest: " + d1 + "\n  name: ghcr.io/acme/foo\n  newTag: 1.0.0\n",
			"images:\n- digest: \"\"\n  name: ghcr.io/acme/foo\n  newTag: 2.1.0\n", tagOnly, nil},
		{"kustomize CRLF", "kustomization.yaml",
			"images:\r\n- name: ghcr.io/acme/foo\r\n  digest: " + d1 + "\r\n  newTag: 1.0.0\r\n",
			"images:\r\n- name: ghcr.io/acme/foo\r\n  newTag: 2.1.0\r\n", tagOnly, nil},
		{"kustomize tag and digest set both", "kustomization.yaml",
			"images:\n- name: ghcr.io/acme/foo\n  newTag: 1.0.0\n  digest: " + d1 + "\n",
			"images:\n- name: ghcr.io/acme/foo\n  newTag: 2.1.0\n  digest: " + d2 + "\n", both, nil},
		{"helm map empties digest", "values.yaml",
			"image:\n  repository: ghcr.io/acme/foo\n  tag: 1.0.0\n  digest: " + d1 + " # pinned\n",
			"image:\n  repository: ghcr.io/acme/foo\n  tag: 2.1.0\n  digest: \"\" # pinned\n", tagOnly, nil},
		{"helm map quoted digest", "values.yaml",
			"image:\n  registry: ghcr.io\n  repository: acme/foo\n  tag: 1.0.0\n  digest: '" + d1 + "'\n",
			"image:\n  registry: ghcr.io\n  repository: acme/foo\n  tag: 2.1.0\n  digest: ''\n", tagOnly, nil},
		{"helm map empty digest stays", "values.yaml",
			"image:\n  repository: ghcr.io/acme/foo\n  tag: 1.0.0\n  digest: \"\"\n",
			"image:\n  repository: ghcr.io/acme/foo\n  tag: 2.1.0\n  digest: \"\"\n", tagOnly, nil},
		{"explicit digest path emptied", "values.yaml",
			"api:\n  ver: 1.0.0\n  sum: " + d1 + "\n",
			"api:\n  ver: 2.1.0\n  sum: \"\"\n", tagOnly, []Option{WithImagePaths(ImagePaths{Image: "ghcr.io/acme/foo", Tag: "api.ver", Digest: "api.sum"})}},
		{"flux digest marker emptied", "values.yaml",
			"image:\n  repository: ghcr.io/acme/foo # {\"$imagepolicy\": \"ns:foo:name\"}\n  tag: 1.0.0 # {\"$imagepolicy\": \"ns:foo:tag\"}\n  digest: " + d1 + " # {\"$imagepolicy\": \"ns:foo:digest\"}\n",
			"image:\n  repository: ghcr.io/acme/foo # {\"$imagepolicy\": \"ns:foo:name\"}\n  tag: 2.1.0 # {\"$imagepolicy\": \"ns:foo:tag\"}\n  digest: \"\" # {\"$imagepolicy\": \"ns:foo:digest\"}\n",
			tagOnly, []Option{WithPolicy("ns:foo", tagOnly[0])}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, res := mustRewrite(t, tc.file, tc.in, tc.ups, tc.opts...)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			// Idempotent.
			again, res2 := mustRewrite(t, tc.file, got, tc.ups, tc.opts...)
			if again != got || res2.Changed() {
				t.Errorf("second rewrite changed %+v", res2.Changes)
			}
			if tc.in != tc.want && !res.Changed() {
				t.Errorf("no change reported")
			}
		})
	}
}

// TestSharedAnchors: editing one image's value never changes another's.
func TestSharedAnchors(t *testing.T) {
	cart := []Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}}
	for _, tc := range []struct {
		name, in, want string
		ups            []Update
		errLine        int // >0: refused, error names this line
	}{
		{"alias spliced when the anchor is shared with another image",
			"version: &v \"1.0.0\"\ncart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: *v\nother:\n  image:\n    repository: ghcr.io/acme/other\n    tag: *v\n",
			"version: &v \"1.0.0\"\ncart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: 2.0.0\nother:\n  image:\n    repository: ghcr.io/acme/other\n    tag: *v\n", cart, 0},
		{"alias with trailing comment spliced",
			"v: &v 1.0.0\ncart: {image: {repository: ghcr.io/acme/cart, tag: *v }} # c\nother:\n  image: {repository: ghcr.io/acme/other, tag: *v}\n",
			"v: &v 1.0.0\ncart: {image: {repository: ghcr.io/acme/cart, tag: 2.0.0 }} # c\nother:\n  image: {repository: ghcr.io/acme/other, tag: *v}\n", cart, 0},
		{"both sharing images updated get their own values",
			"version: &v \"1.0.0\"\ncart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: *v\nother:\n  image:\n    repository: ghcr.io/acme/other\n    tag: *v\n",
			"version: &v \"1.0.0\"\ncart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: 2.0.0\nother:\n  image:\n    repository: ghcr.io/acme/other\n    tag: 3.0.0\n",
			[]Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}, {Repository: "ghcr.io/acme/other", Tag: "3.0.0"}}, 0},
		{"anchor shared only by the same image is edited",
			"a:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: &t 1.0.0\nb:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: *t\n",
			"a:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: &t 2.0.0\nb:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: *t\n", cart, 0},
		{"anchor defined at the site and used by another image is refused",
			"cart:\n  image:\n    repository: ghcr.io/acme/cart\n    tag: &t 1.0.0\nother:\n  image:\n    repository: ghcr.io/acme/other\n    tag: *t\n",
			"", cart, 4},
		{"merge-key tag shared with another image is refused",
			"defaults: &d\n  tag: 1.0.0\ncart:\n  <<: *d\n  repository: ghcr.io/acme/cart\nother:\n  <<: *d\n  repository: ghcr.io/acme/other\n",
			"", cart, 2},
		{"anchor held by another image's own field: the alias is spliced",
			"other:\n  repository: ghcr.io/acme/other\n  tag: &v 1.0.0\ncart:\n  repository: ghcr.io/acme/cart\n  tag: *v\n",
			"other:\n  repository: ghcr.io/acme/other\n  tag: &v 1.0.0\ncart:\n  repository: ghcr.io/acme/cart\n  tag: 2.0.0\n", cart, 0},
		{"whole image map aliased by the same image",
			"cart: &c\n  repository: ghcr.io/acme/cart\n  tag: 1.0.0\ncart2: *c\n",
			"cart: &c\n  repository: ghcr.io/acme/cart\n  tag: 2.0.0\ncart2: *c\n", cart, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, res, err := Rewrite("values.yaml", []byte(tc.in), tc.ups)
			if tc.errLine > 0 {
				var se *SharedValueError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v (%T), want *SharedValueError; out:\n%s", err, err, out)
				}
				if want := fmt.Sprintf("values.yaml:%d:", tc.errLine); !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error %q does not start with %q", err, want)
				}
				if string(out) != tc.in {
					t.Errorf("input changed on error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
			if !res.Changed() {
				t.Errorf("no change reported")
			}
			again, res2 := mustRewrite(t, "values.yaml", string(out), tc.ups)
			if again != string(out) || res2.Changed() {
				t.Errorf("second rewrite changed %+v", res2.Changes)
			}
		})
	}
}

// TestVerifySitesCatchesAliasChanges: the post-edit check compares the
// resolved image of every site, aliases and merge keys included, and fails
// on a site no update names.
func TestVerifySitesCatchesAliasChanges(t *testing.T) {
	ups := []Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}}
	before := "v: &v 1.0.0\ncart:\n  repository: ghcr.io/acme/cart\n  tag: *v\nother:\n  repository: ghcr.io/acme/other\n  tag: *v\n"
	for _, tc := range []struct {
		name, after string
		ok          bool
	}{
		{"anchor edited changes other", strings.Replace(before, "&v 1.0.0", "&v 2.0.0", 1), false},
		{"only cart changed", strings.Replace(before, "tag: *v\nother", "tag: 2.0.0\nother", 1), true},
		{"other changed directly", "v: &v 1.0.0\ncart:\n  repository: ghcr.io/acme/cart\n  tag: *v\nother:\n  repository: ghcr.io/acme/other\n  tag: 9\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseDocs("values.yaml", []byte(before))
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseDocs("values.yaml", []byte(tc.after))
			if err != nil {
				t.Fatal(err)
			}
			err = verifySites("values.yaml", a, b, ups, newIndex(0), newIndex(0))
			if (err == nil) != tc.ok {
				t.Errorf("verifySites = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "other") {
				t.Errorf("error %q does not name the changed site", err)
			}
		})
	}
}

// nestedMerges builds levels of mappings, each merging the previous one
// fanout times: naive merge-key lookups take fanout^levels steps.
func nestedMerges(levels, fanout int) string {
	name := func(i int) string { return string(rune('a' + i)) }
	var b strings.Builder
	b.WriteString("a: &a {x: 1}\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "%s: &%s\n  <<: [", name(i), name(i))
		for j := 0; j < fanout; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*" + name(i-1))
		}
		b.WriteString("]\n")
	}
	fmt.Fprintf(&b, "img:\n  <<: *%s\n  repository: ghcr.io/acme/cart\n  tag: 1.0.0\n", name(levels))
	return b.String()
}

// TestNestedMergesBounded: ten levels of <<: [*a, *a, …] in a ~600-byte file
// cost a bounded number of merge steps, and a cap refuses worse files with
// file and line.
func TestNestedMergesBounded(t *testing.T) {
	in := nestedMerges(10, 10)
	if len(in) > 600 {
		t.Fatalf("input is %d bytes", len(in))
	}
	var steps int
	out, _, err := Rewrite("values.yaml", []byte(in), []Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}}, withIndexStats(&steps))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "tag: 2.0.0") {
		t.Errorf("not rewritten:\n%s", out)
	}
	// Linear in the nodes: each mapping is flattened once.
	if steps == 0 || steps > 50*len(in) {
		t.Errorf("merge steps = %d for a %d-byte file", steps, len(in))
	}
	_, _, err = Rewrite("values.yaml", []byte(in), []Update{{Repository: "ghcr.io/acme/cart", Tag: "2.0.0"}}, withMergeLimit(20))
	var le *LimitError
	if !errors.As(err, &le) || le.Line == 0 || !strings.HasPrefix(err.Error(), "values.yaml:") {
		t.Fatalf("err = %v (%T), want *LimitError with a line", err, err)
	}
}

// TestKustomizeAddressedByName: kustomize matches images entries by name and
// keeps newName; an entry can also be found by its newName.
func TestKustomizeAddressedByName(t *testing.T) {
	in := "images:\n- name: ghcr.io/acme/foo\n  newName: registry.local/foo\n  newTag: 1.0.0\n- name: nginx\n  newName: ghcr.io/acme/nginx\n"
	want := "images:\n- name: ghcr.io/acme/foo\n  newName: registry.local/foo\n  newTag: 2.0.0\n- name: nginx\n  newName: ghcr.io/acme/nginx\n  newTag: \"1.27\"\n"
	got, res := mustRewrite(t, "kustomization.yaml", in, []Update{{Repository: "ghcr.io/acme/foo", Tag: "2.0.0"}, {Repository: "ghcr.io/acme/nginx", Tag: "1.27"}})
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(res.Changes) != 2 {
		t.Errorf("changes %+v", res.Changes)
	}
}

// TestLayoutsFoundOrReported: image.name + image.tag and a registry from a
// parent map are rewritten; a repository that matches only without its
// registry is reported, never silently left.
func TestLayoutsFoundOrReported(t *testing.T) {
	ups := []Update{{Repository: "ghcr.io/acme/foo", Tag: "2.0.0"}}
	for _, tc := range []struct {
		name, in, want, skip string
	}{
		{"image.name + image.tag", "image:\n  name: ghcr.io/acme/foo\n  tag: 1.0.0\n", "image:\n  name: ghcr.io/acme/foo\n  tag: 2.0.0\n", ""},
		{"registry from the parent map", "images:\n  registry: ghcr.io\n  foo:\n    repository: acme/foo\n    tag: 1.0.0\n", "images:\n  registry: ghcr.io\n  foo:\n    repository: acme/foo\n    tag: 2.0.0\n", ""},
		{"registry elsewhere is reported", "image:\n  repository: acme/foo\n  tag: 1.0.0\n", "", "image"},
		{"already at the value is reported", "image: ghcr.io/acme/foo:2.0.0\n", "", "image"},
		{"templated repository is reported", "image:\n  repository: \"{{ .Values.registry }}/acme/foo\"\n  tag: 1.0.0\n", "", "image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, res := mustRewrite(t, "values.yaml", tc.in, ups)
			if tc.want != "" {
				if got != tc.want {
					t.Errorf("got\n%s\nwant\n%s", got, tc.want)
				}
				if !slicesContains(res.Applied, "ghcr.io/acme/foo") {
					t.Errorf("Applied = %q", res.Applied)
				}
				return
			}
			if got != tc.in {
				t.Errorf("changed:\n%s", got)
			}
			if len(res.Skipped) != 1 || res.Skipped[0].Path != tc.skip || res.Skipped[0].Reason == "" || res.Skipped[0].Line == 0 {
				t.Errorf("skipped = %+v", res.Skipped)
			}
		})
	}
}

// TestInsertOnlyWhenAllowed: a kustomize images entry is inserted only for
// images the caller allows; otherwise the update is unmatched.
func TestInsertOnlyWhenAllowed(t *testing.T) {
	in := "resources:\n- ../base\n"
	ups := []Update{{Repository: "ghcr.io/acme/ghost", Tag: "1.0.0"}}
	got, res := mustRewrite(t, "kustomization.yaml", in, ups)
	if got != in || res.Changed() || len(res.Applied) != 0 {
		t.Errorf("inserted without permission: %q %+v", got, res)
	}
	got, res = mustRewrite(t, "kustomization.yaml", in, ups, WithInsert("ghcr.io/acme/ghost"))
	if got != in+"images:\n- name: ghcr.io/acme/ghost\n  newTag: 1.0.0\n" || !slicesContains(res.Applied, "ghcr.io/acme/ghost") {
		t.Errorf("got %q, %+v", got, res)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestSameTagKeepsDigest: a tag-only update to the tag already written asks
// for nothing new, so the digest pinned with that tag stays.
func TestSameTagKeepsDigest(t *testing.T) {
	ups := []Update{{Repository: "ghcr.io/acme/foo", Tag: "1.0.0"}}
	for _, tc := range []struct{ file, in string }{
		{"values.yaml", "image:\n  repository: ghcr.io/acme/foo\n  tag: 1.0.0\n  digest: " + d1 + "\n"},
		{"kustomization.yaml", "images:\n- name: ghcr.io/acme/foo\n  newTag: 1.0.0\n  digest: " + d1 + "\n"},
		{"marked.yaml", "image:\n  repository: ghcr.io/acme/foo # {\"$imagepolicy\": \"ns:foo:name\"}\n  tag: 1.0.0 # {\"$imagepolicy\": \"ns:foo:tag\"}\n  digest: " + d1 + " # {\"$imagepolicy\": \"ns:foo:digest\"}\n"},
	} {
		got, res := mustRewrite(t, tc.file, tc.in, ups, WithPolicy("ns:foo", ups[0]))
		if got != tc.in || res.Changed() || len(res.Applied) != 1 {
			t.Errorf("%s: got %q, %+v", tc.file, got, res)
		}
	}
}

// TestKustomizeSharedTag: a newTag shared through an anchor with another
// image's entry gets its own value at the edited entry.
func TestKustomizeSharedTag(t *testing.T) {
	in := "images:\n- name: ghcr.io/acme/cart\n  newTag: &v 1.0.0\n- name: ghcr.io/acme/other\n  newTag: *v\n"
	want := "images:\n- name: ghcr.io/acme/cart\n  newTag: &v 1.0.0\n- name: ghcr.io/acme/other\n  newTag: 2.0.0\n"
	got, _ := mustRewrite(t, "kustomization.yaml", in, []Update{{Repository: "ghcr.io/acme/other", Tag: "2.0.0"}})
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
