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
func globalRegistries(root *yaml.Node) []string {
	var out []string
	for _, base := range []*yaml.Node{root, valuesOf(root)} {
		_, g := lookup(base, "global")
		if v := scalarValue(second(lookup(g, "imageRegistry"))); v != "" && !templated(v) {
			out = append(out, v)
		}
	}
	return out
}

func valuesOf(root *yaml.Node) *yaml.Node {
	_, spec := lookup(root, "spec")
	_, v := lookup(spec, "values")
	return v
}

func second(_, b *yaml.Node) *yaml.Node { return b }

// imageKey reports whether a key holds an image reference string:
// image, initImage, collectorImage, …
func imageKey(k string) bool {
	return strings.HasSuffix(strings.ToLower(k), "image")
}

// search walks a Helm values tree (or any manifest) and matches image maps
// and image strings against the updates.
func (p *planner) search(n *yaml.Node, path string, doc int, globals []string, flow bool) error {
	switch n.Kind {
	case yaml.MappingNode:
		flow = flow || n.Style&yaml.FlowStyle != 0
		consumed, err := p.imageMap(n, path, doc, globals, flow)
		if err != nil {
			return err
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" || k.Kind != yaml.ScalarNode {
				continue
			}
			kp := joinPath(path, k.Value)
			rv := resolve(v)
			switch {
			case rv == nil:
			case rv.Kind == yaml.ScalarNode:
				if imageKey(k.Value) && rv != consumed {
					if err := p.imageString(k, rv, kp, doc, flow); err != nil {
						return err
					}
				}
			case v.Kind != yaml.AliasNode:
				if err := p.search(v, kp, doc, globals, flow); err != nil {
					return err
				}
			}
		}
	case yaml.SequenceNode:
		flow = flow || n.Style&yaml.FlowStyle != 0
		for i, c := range n.Content {
			if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
				if err := p.search(c, fmt.Sprintf("%s[%d]", path, i), doc, globals, flow); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// imageMap matches one mapping against the Helm image-map layouts:
//
//	repository [+ registry] + tag|version [+ digest]     (+ global.imageRegistry)
//	name + registry + tag|version [+ digest]
//	image + tag|version [+ digest]                         (api.image.image)
//
// It returns the scalar it used as the repository so the caller does not
// also treat it as an image string.
func (p *planner) imageMap(m *yaml.Node, path string, doc int, globals []string, flow bool) (*yaml.Node, error) {
	_, repo := lookup(m, "repository")
	_, reg := lookup(m, "registry")
	tagK, tag := lookup(m, "tag")
	if tag == nil {
		tagK, tag = lookup(m, "version")
	}
	hasTag := tag != nil && tag.Kind == yaml.ScalarNode
	if repo == nil || repo.Kind != yaml.ScalarNode {
		_, img := lookup(m, "image")
		_, name := lookup(m, "name")
		switch {
		case img != nil && img.Kind == yaml.ScalarNode && hasTag:
			repo = img
		case name != nil && name.Kind == yaml.ScalarNode && img == nil && reg != nil && reg.Kind == yaml.ScalarNode:
			repo = name
		default:
			return nil, nil
		}
	}
	rv := scalarValue(repo)
	if rv == "" || templated(rv) {
		return nil, nil
	}
	var cands []string
	if r := scalarValue(reg); r != "" && !templated(r) {
		cands = append(cands, strings.TrimSuffix(r, "/")+"/"+rv)
	} else if r == "" {
		cands = append(cands, rv)
	}
	for _, g := range globals {
		cands = append(cands, strings.TrimSuffix(g, "/")+"/"+rv)
	}
	digK, dig := lookup(m, "digest")
	for _, u := range p.updates {
		if p.handled[normalizeRepository(u.Repository)] {
			continue
		}
		matched, shared := false, ""
		for _, c := range cands {
			if sameRepository(c, u.Repository) {
				matched = true
			} else if underRepository(u.Repository, c) {
				shared = c
			}
		}
		switch {
		case matched && tag == nil:
			// Typical of an environment override that sets only the
			// repository; the tag lives in another values file or the chart.
			p.skipped = append(p.skipped, Skip{Path: path, Line: m.Line, Repository: u.Repository,
				Reason: "image map has no tag field (the tag comes from another values file or the chart); configure explicit paths to pin it here"})
		case matched:
			p.claim(u, layoutMap, path, m.Line)
			f := refFields{base: path, line: m.Line, tagK: tagK, tag: tag, digK: digK, dig: dig, doc: doc, flow: flow}
			if err := p.setRefFields(u, f); err != nil {
				return nil, err
			}
		case shared != "" && hasTag:
			tp := joinPath(path, tagK.Value)
			if !p.o.sharedTags[tp] {
				p.skipped = append(p.skipped, Skip{Path: tp, Line: tag.Line, Repository: u.Repository,
					Reason: fmt.Sprintf("tag is shared by every image under %s; allow it with a shared tag in config", shared)})
				continue
			}
			if u.Tag == "" {
				p.skipped = append(p.skipped, Skip{Path: tp, Line: tag.Line, Repository: u.Repository, Reason: "a digest cannot be pinned in a tag shared by several images"})
				continue
			}
			p.claim(u, layoutMap, path, m.Line)
			if err := p.set(&target{node: tag, key: tagK, path: tp, doc: doc, field: "tag", value: u.Tag, repo: u.Repository, flow: flow}); err != nil {
				return nil, err
			}
		}
	}
	return repo, nil
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
	doc        int
	flow       bool
}

// setRefFields applies an update to separate tag/digest fields. The tag gets
// the new tag; the digest field gets the new digest. Without a digest field
// a digest goes into the tag as TAG@DIGEST, and a tag already written in
// that combined form keeps it.
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
		if err := p.set(&target{node: f.tag, key: f.tagK, path: tagPath, doc: f.doc, field: "tag", value: v, repo: u.Repository, flow: f.flow}); err != nil {
			return err
		}
		if hasDig && u.Digest != "" {
			return p.set(&target{node: f.dig, key: f.digK, path: digPath, doc: f.doc, field: "digest", value: u.Digest, repo: u.Repository, flow: f.flow})
		}
		return nil
	}
	if u.Tag != "" {
		if err := p.set(&target{node: f.tag, key: f.tagK, path: tagPath, doc: f.doc, field: "tag", value: u.Tag, repo: u.Repository, flow: f.flow}); err != nil {
			return err
		}
	}
	if u.Digest != "" {
		return p.set(&target{node: f.dig, key: f.digK, path: digPath, doc: f.doc, field: "digest", value: u.Digest, repo: u.Repository, flow: f.flow})
	}
	return nil
}

// imageString matches a REPO[:TAG][@DIGEST] string under an image-like key.
func (p *planner) imageString(k, v *yaml.Node, path string, doc int, flow bool) error {
	s := scalarValue(v)
	if s == "" || templated(s) || strings.ContainsAny(s, " \t\n") {
		return nil
	}
	r, t, _ := splitImage(s)
	for _, u := range p.updates {
		if p.handled[normalizeRepository(u.Repository)] || !sameRepository(r, u.Repository) {
			continue
		}
		p.claim(u, layoutString, path, v.Line)
		nt, nd := combineTag(t, u)
		if err := p.set(&target{node: v, key: k, path: path, doc: doc, field: "ref", value: joinRef(r, nt, nd), repo: u.Repository, flow: flow}); err != nil {
			return err
		}
	}
	return nil
}
