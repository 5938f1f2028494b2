package rewrite

import (
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// marker is a parsed setter comment on a value line.
type marker struct {
	flux  bool   // {"$imagepolicy": …} rather than automator:
	name  string // namespace:policy, or service
	field string // "", tag, digest or name
}

var automatorMarkerRE = lazyRegexp(`^automator:\s*([A-Za-z0-9][A-Za-z0-9._/-]*)(?::(tag|digest|name))?\s*$`)

// parseMarker reads a line comment as a Flux setter marker
// (# {"$imagepolicy": "ns:policy[:tag|:name|:digest]"}) or an automator
// marker (# automator: service[:tag|:digest|:name]).
func parseMarker(comment string) (marker, bool) {
	c := strings.TrimSpace(comment)
	if !strings.HasPrefix(c, "#") {
		return marker{}, false
	}
	c = strings.TrimSpace(strings.TrimLeft(c, "#"))
	if strings.HasPrefix(c, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(c), &m); err != nil {
			return marker{}, false
		}
		s, ok := m["$imagepolicy"].(string)
		if !ok {
			return marker{}, false
		}
		parts := strings.Split(s, ":")
		switch {
		case len(parts) == 2:
			return marker{flux: true, name: s}, true
		case len(parts) == 3 && (parts[2] == "tag" || parts[2] == "name" || parts[2] == "digest"):
			return marker{flux: true, name: parts[0] + ":" + parts[1], field: parts[2]}, true
		}
		return marker{}, false
	}
	if m := automatorMarkerRE().FindStringSubmatch(c); m != nil {
		return marker{name: m[1], field: m[2]}, true
	}
	return marker{}, false
}

// markerUpdate resolves a marker to the update it stands for.
func (p *planner) markerUpdate(m marker) (Update, bool) {
	if m.flux {
		u, ok := p.o.policies[m.name]
		return u, ok
	}
	repo := m.name
	if r, ok := p.o.services[m.name]; ok {
		repo = r
	}
	for _, u := range p.updates {
		if sameRepository(u.Repository, repo) {
			return u, true
		}
	}
	if _, ok := p.o.services[m.name]; ok {
		return Update{}, false
	}
	for _, u := range p.updates {
		if strings.HasSuffix(u.Repository, "/"+m.name) {
			return u, true
		}
	}
	return Update{}, false
}

// markers applies every marker found in a document. Markers are explicit:
// an update applied through a marker is not searched for elsewhere in the
// file.
func (p *planner) markers(d *yaml.Node, doc int) error {
	var stale []*target // digest markers a tag-only update may empty
	var walk func(n *yaml.Node, path string, flow bool) error
	visit := func(k, v *yaml.Node, path string, flow bool) error {
		if v.Kind != yaml.ScalarNode {
			return nil
		}
		comment := v.LineComment
		if comment == "" && k != nil {
			comment = k.LineComment
		}
		if comment == "" {
			return nil
		}
		m, ok := parseMarker(comment)
		if !ok {
			return nil
		}
		u, ok := p.markerUpdate(m)
		if !ok {
			return nil
		}
		p.handled[normalizeRepository(u.Repository)] = true
		cur := scalarValue(v)
		t := &target{node: v, key: k, path: path, doc: doc, repo: u.Repository, flow: flow, field: m.field, site: path, siteLine: v.Line}
		switch m.field {
		case "tag":
			if u.Tag == "" {
				return nil
			}
			t.value = u.Tag
		case "digest":
			if u.Digest == "" && (u.Tag == "" || cur == "") {
				return nil
			}
			if u.Digest == "" {
				// A tag-only update empties the digest, which pins the old
				// image, once a tag marker of the same update changes.
				stale = append(stale, t)
				return nil
			}
			t.value = u.Digest
		case "name":
			if sameRepository(cur, u.Repository) {
				return nil
			}
			t.value = u.Repository
		default:
			r, tag, _ := splitImage(cur)
			if !sameRepository(r, u.Repository) {
				r = u.Repository
			}
			nt, nd := combineTag(tag, u)
			t.field, t.value = "ref", joinRef(r, nt, nd)
		}
		if err := p.set(t); err != nil {
			return fmt.Errorf("marker %q: %w", strings.TrimSpace(comment), err)
		}
		return nil
	}
	walk = func(n *yaml.Node, path string, flow bool) error {
		flow = flow || n.Style&yaml.FlowStyle != 0
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if err := walk(c, path, flow); err != nil {
					return err
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				kp := joinPath(path, k.Value)
				if err := visit(k, v, kp, flow); err != nil {
					return err
				}
				if err := walk(v, kp, flow); err != nil {
					return err
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				ip := fmt.Sprintf("%s[%d]", path, i)
				if err := visit(nil, c, ip, flow); err != nil {
					return err
				}
				if err := walk(c, ip, flow); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(d, "", false); err != nil {
		return err
	}
	for _, t := range stale {
		for _, o := range p.targets {
			if o.field == "tag" && o.repo == t.repo && scalarValue(o.node) != o.value {
				if err := p.set(t); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}
