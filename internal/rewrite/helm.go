package rewrite

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

const (
	layoutMap    = "image map"
	layoutString = "image string"
)

// globalRegistries returns Bitnami-style global.imageRegistry values that
// override every image map's registry, at the document root and under a Flux
// HelmRelease's spec.values.
func globalRegistries(ix *index, root *yaml.Node) []string {
	var out []string
	for _, base := range []*yaml.Node{root, valuesOf(ix, root)} {
		_, g := ix.lookup(base, "global")
		if v := ix.value(g, "imageRegistry"); v != "" && !templated(v) {
			out = append(out, v)
		}
	}
	return out
}

func valuesOf(ix *index, root *yaml.Node) *yaml.Node {
	_, spec := ix.lookup(root, "spec")
	_, v := ix.lookup(spec, "values")
	return v
}

func second(_, b *yaml.Node) *yaml.Node { return b }

// imageKey reports whether a key holds an image reference string:
// image, initImage, collectorImage, …
func imageKey(k string) bool {
	return strings.HasSuffix(strings.ToLower(k), "image")
}

// searchScope is what search passes down the tree.
type searchScope struct {
	doc       int
	globals   []string
	inherited string // registry of the nearest parent map that has one
	flow      bool
}

// search walks a Helm values tree (or any manifest) and matches image maps
// and image strings against the updates.
func (p *planner) search(n *yaml.Node, sc searchScope) error {
	w := treeWalker{ix: p.ix,
		mapping: func(m *yaml.Node, path, key string, sc searchScope, _ bool) (*yaml.Node, error) {
			return p.imageMap(m, path, key, sc)
		},
		str: p.imageString}
	return w.walk(n, "", "", sc)
}

// nearMiss reports whether a repository written in a file names the same
// image path as repo but under another (or an unknown) registry: worth a
// reason in the skipped list, since a typo or a registry set elsewhere
// would otherwise look like "no change".
func nearMiss(written, repo string) bool {
	written, a, ok := nearPath(written)
	if !ok || sameRepository(written, repo) {
		return false
	}
	b := imagePath(normalizeRepository(repo))
	return a == b || strings.HasSuffix(b, "/"+a) || strings.HasSuffix(a, "/"+b)
}

// nearPath strips any template prefix from a repository written in a file
// and returns what is left and its image path (no registry); false when
// nothing is left.
func nearPath(written string) (stripped, path string, ok bool) {
	if i := strings.LastIndex(written, "}}"); i >= 0 {
		written = strings.TrimLeft(written[i+2:], "/")
	}
	if i := strings.LastIndex(written, "}"); i >= 0 && strings.Contains(written[:i], "${") {
		written = strings.TrimLeft(written[i+1:], "/")
	}
	if written == "" {
		return "", "", false
	}
	return written, imagePath(normalizeRepository(written)), true
}

// imagePath is a normalized repository without its registry and Docker's
// library/ prefix.
func imagePath(normalized string) string {
	_, rest, _ := strings.Cut(normalized, "/")
	return strings.TrimPrefix(rest, "library/")
}

// imageMap matches one mapping against the Helm image-map layouts (see
// imageFields). It returns the scalar it used as the repository so the
// caller does not also treat it as an image string.
func (p *planner) imageMap(m *yaml.Node, path, key string, sc searchScope) (*yaml.Node, error) {
	f, ok := p.ix.imageFields(m, key, sc.globals, sc.inherited)
	if !ok {
		return nil, nil
	}
	hasTag := f.tag != nil && f.tag.Kind == yaml.ScalarNode
	for _, i := range p.ux.candidates(f.cands, f.rawRepo) {
		u := p.updates[i]
		if p.handled[normalizeRepository(u.Repository)] {
			continue
		}
		matched, shared := false, ""
		for _, c := range f.cands {
			if sameRepository(c, u.Repository) {
				matched = true
			} else if underRepository(u.Repository, c) {
				shared = c
			}
		}
		switch {
		case matched && f.tag == nil:
			// Typical of an environment override that sets only the
			// repository; the tag lives in another values file or the chart.
			p.skip(Skip{Path: path, Line: m.Line, Repository: u.Repository,
				Reason: "image map has no tag field (the tag comes from another values file or the chart); configure explicit paths to pin it here"})
		case matched:
			p.claim(u, layoutMap, path, m.Line)
			rf := refFields{base: path, line: m.Line, tagK: f.tagK, tag: f.tag, digK: f.digK, dig: f.dig, tagAlias: f.tagAlias, digAlias: f.digAlias, doc: sc.doc, flow: sc.flow}
			if err := p.setRefFields(u, rf); err != nil {
				return nil, err
			}
		case shared != "" && hasTag:
			tp := joinPath(path, f.tagK.Value)
			if !p.o.sharedTags[tp] {
				p.skip(Skip{Path: tp, Line: f.tag.Line, Repository: u.Repository,
					Reason: fmt.Sprintf("tag is shared by every image under %s; allow it with a shared tag in config", shared)})
				continue
			}
			if u.Tag == "" {
				p.skip(Skip{Path: tp, Line: f.tag.Line, Repository: u.Repository, Reason: "a digest cannot be pinned in a tag shared by several images"})
				continue
			}
			p.claim(u, layoutMap, path, m.Line)
			if err := p.set(&target{node: f.tag, alias: f.tagAlias, key: f.tagK, path: tp, doc: sc.doc, field: "tag", value: u.Tag, repo: u.Repository, flow: sc.flow, site: path, siteLine: m.Line}); err != nil {
				return nil, err
			}
		case templated(f.rawRepo) && nearMiss(f.rawRepo, u.Repository):
			p.skip(Skip{Path: path, Line: m.Line, Repository: u.Repository,
				Reason: fmt.Sprintf("repository %q is a template; configure explicit paths if it is this image", f.rawRepo)})
		case nearMiss(f.rawRepo, u.Repository):
			p.skip(Skip{Path: path, Line: m.Line, Repository: u.Repository,
				Reason: fmt.Sprintf("repository %q (read as %s) is not %s: its registry differs or is set outside this map (a parent map, a global value, the chart); configure explicit paths if it is this image", f.rawRepo, strings.Join(f.cands, " or "), u.Repository)})
		}
	}
	return f.repo, nil
}

func (p *planner) claim(u Update, layout, path string, line int) {
	k := normalizeRepository(u.Repository)
	p.claims[k] = append(p.claims[k], claim{layout: layout, path: path, line: line})
}

// refFields are the tag and digest fields of one image (map layout or
// explicit paths); nil nodes are absent.
type refFields struct {
	base       string
	tagPath    string // overrides base+"."+key when set (explicit paths)
	digestPath string
	line       int
	tagK, tag  *yaml.Node
	digK, dig  *yaml.Node
	// tagAlias and digAlias are the alias nodes written at the site when
	// the values are shared through an anchor.
	tagAlias, digAlias *yaml.Node
	doc                int
	flow               bool
}

// setRefFields applies an update to separate tag/digest fields. The tag gets
// the new tag; the digest field gets the new digest. Without a digest field
// a digest goes into the tag as TAG@DIGEST, and a tag already written in
// that combined form keeps it. A tag-only update that changes the tag empties
// a digest field that holds a value: that digest pins the previous image and
// would win over the new tag at pull time.
func (p *planner) setRefFields(u Update, f refFields) error {
	tagPath, digPath := f.tagPath, f.digestPath
	if tagPath == "" {
		name := "tag"
		if f.tagK != nil {
			name = f.tagK.Value
		}
		tagPath = joinPath(f.base, name)
	}
	if digPath == "" {
		digPath = joinPath(f.base, "digest")
	}
	hasTag := f.tag != nil
	hasDig := f.dig != nil
	if hasTag && f.tag.Kind != yaml.ScalarNode {
		return &PathError{File: p.file, Path: tagPath, Line: f.tag.Line, Reason: "holds a " + kindName(f.tag) + ", not a tag"}
	}
	if hasDig && f.dig.Kind != yaml.ScalarNode {
		return &PathError{File: p.file, Path: digPath, Line: f.dig.Line, Reason: "holds a " + kindName(f.dig) + ", not a digest"}
	}
	oldTag := scalarValue(f.tag)
	combined := hasTag && strings.Contains(oldTag, "@")
	switch {
	case u.Tag != "" && !hasTag:
		return &PathError{File: p.file, Path: tagPath, Line: f.line, Reason: fmt.Sprintf("no tag field for image %q", u.Repository)}
	case u.Digest != "" && !hasDig && !hasTag:
		return &PathError{File: p.file, Path: digPath, Line: f.line, Reason: fmt.Sprintf("no digest or tag field for image %q", u.Repository)}
	}
	tagT := func(v string) *target {
		return &target{node: f.tag, alias: f.tagAlias, key: f.tagK, path: tagPath, doc: f.doc, field: "tag", value: v, repo: u.Repository, flow: f.flow, site: f.base, siteLine: f.line}
	}
	digT := func(v string) *target {
		return &target{node: f.dig, alias: f.digAlias, key: f.digK, path: digPath, doc: f.doc, field: "digest", value: v, repo: u.Repository, flow: f.flow, site: f.base, siteLine: f.line}
	}
	digest := u.Digest
	if t, _, _ := strings.Cut(oldTag, "@"); hasDig && digest == "" && u.Tag != "" && u.Tag != t && scalarValue(f.dig) != "" {
		// Stale digest: empty it (Helm charts read "" as "no digest").
		digest = ""
		if err := p.set(digT("")); err != nil {
			return err
		}
	}
	if combined || (u.Digest != "" && !hasDig) {
		t, _, _ := strings.Cut(oldTag, "@")
		nt, nd := combineTag(t, u)
		if nt == "" {
			return &PathError{File: p.file, Path: digPath, Line: f.line, Reason: fmt.Sprintf("cannot pin a digest for image %q: no digest field and the tag is empty", u.Repository)}
		}
		v := nt
		if nd != "" {
			v += "@" + nd
		}
		if err := p.set(tagT(v)); err != nil {
			return err
		}
		if hasDig && digest != "" {
			return p.set(digT(digest))
		}
		return nil
	}
	if u.Tag != "" {
		if err := p.set(tagT(u.Tag)); err != nil {
			return err
		}
	}
	if digest != "" {
		return p.set(digT(digest))
	}
	return nil
}

// imageString matches a REPO[:TAG][@DIGEST] string under an image-like key;
// raw is the value as written (an alias when the string is shared).
func (p *planner) imageString(k, raw *yaml.Node, path string, sc searchScope) error {
	v := resolve(raw)
	s := scalarValue(v)
	if s == "" || strings.ContainsAny(s, " \t\n") {
		return nil
	}
	r, t, _ := splitImage(s)
	for _, i := range p.ux.candidates([]string{r}, r) {
		u := p.updates[i]
		if p.handled[normalizeRepository(u.Repository)] {
			continue
		}
		if templated(s) || !sameRepository(r, u.Repository) {
			if nearMiss(r, u.Repository) {
				p.skip(Skip{Path: path, Line: v.Line, Repository: u.Repository, Reason: fmt.Sprintf("image %q is not %s (another registry or a template); configure explicit paths if it is this image", s, u.Repository)})
			}
			continue
		}
		p.claim(u, layoutString, path, v.Line)
		nt, nd := combineTag(t, u)
		if err := p.set(&target{node: v, alias: aliasOf(raw), key: k, path: path, doc: sc.doc, field: "ref", value: joinRef(r, nt, nd), repo: u.Repository, flow: sc.flow, site: path, siteLine: v.Line}); err != nil {
			return err
		}
	}
	return nil
}

// aliasOf returns n when it is an alias node, else nil.
func aliasOf(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n
	}
	return nil
}
