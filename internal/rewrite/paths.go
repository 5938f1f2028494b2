package rewrite

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// pathSeg is one step of a YAML path: a mapping key followed by zero or more
// sequence selectors ([2] or [name=value]).
type pathSeg struct {
	key  string
	sels []string
}

func parsePath(s string) ([]pathSeg, error) {
	var segs []pathSeg
	for _, part := range splitOutsideBrackets(s) {
		key, rest, _ := strings.Cut(part, "[")
		seg := pathSeg{key: key}
		if rest != "" {
			rest = "[" + rest
			for rest != "" {
				if rest[0] != '[' {
					return nil, fmt.Errorf("invalid YAML path %q near %q", s, rest)
				}
				end := strings.IndexByte(rest, ']')
				if end < 0 {
					return nil, fmt.Errorf("invalid YAML path %q: unclosed [", s)
				}
				seg.sels = append(seg.sels, rest[1:end])
				rest = rest[end+1:]
			}
		}
		if seg.key == "" && len(seg.sels) == 0 {
			return nil, fmt.Errorf("invalid YAML path %q: empty element", s)
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

func splitOutsideBrackets(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// findPath resolves a YAML path in n. Keys that contain dots (a flat
// "nginx.image.tag" key) are matched before nested ones, longest first. It
// returns the key and value nodes, or the deepest node reached and the
// missing element.
func findPath(ix *index, n *yaml.Node, segs []pathSeg) (key, val, deepest *yaml.Node, missing string) {
	n = resolve(n)
	if len(segs) == 0 {
		return nil, n, n, ""
	}
	deepest, missing = n, segs[0].key
	if segs[0].key == "" {
		return applySels(ix, nil, n, segs[0], segs[1:])
	}
	for j := len(segs); j > 0; j-- {
		names := make([]string, j)
		ok := true
		for i := 0; i < j; i++ {
			names[i] = segs[i].key
			if (i < j-1 && len(segs[i].sels) > 0) || segs[i].key == "" {
				ok = false
			}
		}
		if !ok {
			continue
		}
		k, v := ix.lookup(n, strings.Join(names, "."))
		if v == nil {
			continue
		}
		kk, vv, d, miss := applySels(ix, k, v, segs[j-1], segs[j:])
		if vv != nil {
			return kk, vv, d, ""
		}
		deepest, missing = d, miss
	}
	return nil, nil, deepest, missing
}

func applySels(ix *index, k, v *yaml.Node, seg pathSeg, rest []pathSeg) (key, val, deepest *yaml.Node, missing string) {
	for _, sel := range seg.sels {
		if v.Kind != yaml.SequenceNode {
			return nil, nil, v, "[" + sel + "]"
		}
		var next *yaml.Node
		if i, err := strconv.Atoi(sel); err == nil {
			if i >= 0 && i < len(v.Content) {
				next = v.Content[i]
			}
		} else if f, want, ok := strings.Cut(sel, "="); ok {
			for _, c := range v.Content {
				if ix.value(c, f) == want {
					next = c
					break
				}
			}
		}
		if next == nil {
			return nil, nil, v, "[" + sel + "]"
		}
		k, v = nil, resolve(next)
	}
	if len(rest) == 0 {
		return k, v, v, ""
	}
	return findPath(ix, v, rest)
}

// findInDocs resolves a path in the first document that has it.
func (p *planner) findInDocs(path string) (key, val *yaml.Node, doc int, err error) {
	segs, err := parsePath(path)
	if err != nil {
		return nil, nil, 0, err
	}
	line, missing := 0, segs[0].key
	for i, d := range p.docs {
		root := docRoot(d)
		if root == nil {
			continue
		}
		k, v, deepest, miss := findPath(p.ix, root, segs)
		if v != nil {
			return k, v, i, nil
		}
		if deepest != nil && deepest.Line > line {
			line, missing = deepest.Line, miss
		}
	}
	return nil, nil, 0, &PathError{File: p.file, Path: path, Line: line, Reason: fmt.Sprintf("path does not exist (no %s)", missing)}
}

// explicitPaths applies WithImagePaths rules; they win over layout search.
func (p *planner) explicitPaths() error {
	for _, ip := range p.o.paths {
		var u Update
		found := false
		for _, x := range p.updates {
			if sameRepository(x.Repository, ip.Image) {
				u, found = x, true
			}
		}
		if !found {
			continue
		}
		nr := normalizeRepository(u.Repository)
		if p.handled[nr] {
			continue // a marker already says where this image goes
		}
		p.handled[nr] = true
		f := refFields{tagPath: ip.Tag, digestPath: ip.Digest, base: firstNonEmpty(ip.Tag, ip.Digest)}
		if ip.Repository != "" {
			_, rv, doc, err := p.findInDocs(ip.Repository)
			if err != nil {
				return err
			}
			f.doc, f.line = doc, rv.Line
			v := scalarValue(rv)
			switch {
			case sameRepository(v, u.Repository):
			case underRepository(u.Repository, v) && ip.SharedTag:
			case underRepository(u.Repository, v):
				return &PathError{File: p.file, Path: ip.Repository, Line: rv.Line, Reason: fmt.Sprintf("%q is shared by every image under it; set sharedTag to update it for %q", v, u.Repository)}
			default:
				return &PathError{File: p.file, Path: ip.Repository, Line: rv.Line, Reason: fmt.Sprintf("holds %q, not image %q", v, u.Repository)}
			}
		}
		if ip.Tag != "" {
			k, v, doc, err := p.findInDocs(ip.Tag)
			if err != nil {
				return err
			}
			f.tagK, f.tag, f.doc, f.line = k, v, doc, v.Line
		}
		if ip.Digest != "" {
			k, v, doc, err := p.findInDocs(ip.Digest)
			if err != nil {
				return err
			}
			f.digK, f.dig, f.doc = k, v, doc
			if f.line == 0 {
				f.line = v.Line
			}
		}
		if f.tagPath == "" {
			f.tagPath = "(no tag path configured)"
		}
		if f.digestPath == "" {
			f.digestPath = "(no digest path configured)"
		}
		if err := p.setRefFields(u, f); err != nil {
			return err
		}
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
