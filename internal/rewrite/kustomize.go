package rewrite

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// kustomizeKeyOrder is the order kustomize itself writes images fields in;
// inserted keys follow it.
var kustomizeKeyOrder = []string{"name", "newName", "newTag", "digest"}

// kustomize updates, or inserts, images entries of a kustomization. Entries
// are addressed the way kustomize addresses them: by name (the image the
// resources use); newName, the image it is replaced with, is kept. An entry
// whose newName is the update's repository is found too.
func (p *planner) kustomize(root *yaml.Node, doc, ndocs int) error {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	imagesK, images := p.ix.lookup(root, "images")
	var pending []Update
	for _, u := range p.updates {
		if p.handled[normalizeRepository(u.Repository)] {
			continue
		}
		matched := false
		if images != nil && images.Kind == yaml.SequenceNode {
			for i, e := range images.Content {
				e = resolve(e)
				name, newName := p.ix.value(e, "name"), p.ix.value(e, "newName")
				path := fmt.Sprintf("images[%d]", i)
				switch {
				case sameRepository(name, u.Repository) || sameRepository(newName, u.Repository):
					matched = true
					p.claim(u, "kustomize images entry", path, e.Line)
					if err := p.kustomizeEntry(e, u, path, doc); err != nil {
						return err
					}
				case nearMiss(name, u.Repository) || newName != "" && nearMiss(newName, u.Repository):
					p.skip(Skip{Path: path, Line: e.Line, Repository: u.Repository,
						Reason: fmt.Sprintf("entry names %q, not %s (kustomize matches name exactly)", name, u.Repository)})
				}
			}
		}
		if !matched && p.o.insert[normalizeRepository(u.Repository)] {
			pending = append(pending, u)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	return p.kustomizeAppend(root, imagesK, images, pending, doc, ndocs)
}

// kustomizeValues returns the fields an update writes into an images entry,
// given the current newTag.
func (p *planner) kustomizeValues(u Update, curTag string) (newTag, digest string) {
	t, _, _ := strings.Cut(curTag, "@")
	if p.o.kustomize == KustomizeCombined || strings.Contains(curTag, "@") {
		nt, nd := combineTag(t, u)
		if nt != "" {
			if nd != "" {
				nt += "@" + nd
			}
			return nt, ""
		}
	}
	return u.Tag, u.Digest
}

func (p *planner) kustomizeEntry(e *yaml.Node, u Update, path string, doc int) error {
	if e.Kind != yaml.MappingNode {
		return &UnsupportedError{File: p.file, Path: path, Line: e.Line, Reason: "images entry is not a mapping"}
	}
	_, tag := p.ix.lookup(e, "newTag")
	newTag, digest := p.kustomizeValues(u, scalarValue(tag))
	want := map[string]string{"newTag": newTag, "digest": digest}
	flow := e.Style&yaml.FlowStyle != 0
	if digK, dig := p.ix.lookup(e, "digest"); digest == "" && scalarValue(dig) != "" && newTag != "" && newTag != scalarValue(tag) {
		// A stale digest would win over the new tag: drop the field, as
		// `kustomize edit set image` does, or empty it where its line
		// cannot go alone (first key after the dash, flow style); kustomize
		// reads an empty digest as none.
		t := &target{node: dig, key: digK, path: path + ".digest", doc: doc, field: "digest", repo: u.Repository, flow: flow, site: path, siteLine: e.Line}
		t.remove = !flow && localKey(e, "digest") && p.src.removable(digK, dig)
		if err := p.set(t); err != nil {
			return err
		}
	}
	var missing []string
	for _, f := range []string{"newTag", "digest"} {
		v := want[f]
		if v == "" {
			continue
		}
		en := p.ix.entry(e, f)
		if n := en.val; n != nil {
			if err := p.set(&target{node: n, alias: en.alias, key: en.key, path: path + "." + f, doc: doc, field: fieldName(f), value: v, repo: u.Repository, flow: flow, site: path, siteLine: e.Line}); err != nil {
				return err
			}
			continue
		}
		missing = append(missing, f)
	}
	if len(missing) == 0 {
		return nil
	}
	if e.Style&yaml.FlowStyle != 0 {
		return &UnsupportedError{File: p.file, Path: path, Line: e.Line, Reason: "cannot add " + strings.Join(missing, ", ") + " to a flow-style images entry"}
	}
	// Insert after the last present key that comes before the new one in
	// kustomize's order, one line per key, at the entry's indentation.
	byAnchor := map[*yaml.Node][]string{}
	var anchors []*yaml.Node
	for _, f := range missing {
		var anchor *yaml.Node
		for _, prev := range kustomizeKeyOrder {
			if prev == f {
				break
			}
			if _, n := p.ix.lookup(e, prev); n != nil && localKey(e, prev) {
				anchor = n
			}
		}
		if anchor == nil {
			anchor = lastValue(e)
		}
		if _, ok := byAnchor[anchor]; !ok {
			anchors = append(anchors, anchor)
		}
		byAnchor[anchor] = append(byAnchor[anchor], f)
	}
	for _, a := range anchors {
		sp, reason := p.src.scalarSpan(a)
		if reason != "" {
			return &UnsupportedError{File: p.file, Path: path, Line: a.Line, Reason: "cannot add a key after this value: " + reason}
		}
		ins := insertion{at: p.src.lineEnd(sp.end)}
		for _, f := range byAnchor[a] {
			key := p.insertKey(path+"."+f, want[f])
			if key != "" {
				return &ConflictError{File: p.file, Path: path + "." + f, Line: e.Line, Values: []string{key, want[f]}}
			}
			prefix := p.src.eol + indentWidth(e.Column) + f + ": "
			ins.changes = append(ins.changes, insertedChange{off: len(ins.text) + len(prefix), ch: Change{File: p.file, Doc: doc, Path: path + "." + f, Field: fieldName(f), New: want[f], Repository: u.Repository}})
			ins.text += prefix + formatScalar(want[f], 0, false, p.o.quote)
		}
		p.insert(ins)
	}
	return nil
}

// insertKey records an inserted value; it returns the earlier value when a
// different one was already inserted at the same place.
func (p *planner) insertKey(k, v string) string {
	if p.insertKeys == nil {
		p.insertKeys = map[string]string{}
	}
	if prev, ok := p.insertKeys[k]; ok && prev != v {
		return prev
	}
	p.insertKeys[k] = v
	return ""
}

func fieldName(f string) string {
	if f == "newTag" {
		return "tag"
	}
	return f
}

func localKey(m *yaml.Node, name string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return true
		}
	}
	return false
}

func lastValue(m *yaml.Node) *yaml.Node {
	if len(m.Content) == 0 {
		return m
	}
	return m.Content[len(m.Content)-1]
}

// kustomizeAppend adds new images entries, and the images key when missing.
func (p *planner) kustomizeAppend(root, imagesK, images *yaml.Node, ups []Update, doc, ndocs int) error {
	idx := 0
	if images != nil && images.Kind == yaml.SequenceNode {
		idx = len(images.Content)
	}
	entry := func(dash, indent string) (string, []insertedChange) {
		var text string
		var chs []insertedChange
		for n, u := range ups {
			newTag, digest := p.kustomizeValues(u, "")
			fields := [][2]string{{"name", u.Repository}}
			if newTag != "" {
				fields = append(fields, [2]string{"newTag", newTag})
			}
			if digest != "" {
				fields = append(fields, [2]string{"digest", digest})
			}
			path := fmt.Sprintf("images[%d]", idx+n)
			for i, f := range fields {
				lead := indent
				if i == 0 {
					lead = dash
				}
				prefix := p.src.eol + lead + f[0] + ": "
				if f[0] != "name" {
					chs = append(chs, insertedChange{off: len(text) + len(prefix), ch: Change{File: p.file, Doc: doc, Path: path + "." + f[0], Field: fieldName(f[0]), New: f[1], Repository: u.Repository}})
				}
				text += prefix + formatScalar(f[1], 0, false, p.o.quote)
			}
		}
		return text, chs
	}
	switch {
	case images != nil && images.Kind == yaml.SequenceNode && len(images.Content) > 0:
		if images.Style&yaml.FlowStyle != 0 {
			return &UnsupportedError{File: p.file, Path: "images", Line: images.Line, Reason: "cannot append to a flow-style images list"}
		}
		first := resolve(images.Content[0])
		last := images.Content[len(images.Content)-1]
		if last.Kind == yaml.MappingNode {
			last = lastValue(last)
		}
		sp, reason := p.src.scalarSpan(last)
		if reason != "" || first.Kind != yaml.MappingNode {
			return &UnsupportedError{File: p.file, Path: "images", Line: last.Line, Reason: "cannot append after the last images entry: " + reason}
		}
		// Copy the dash prefix ("  - ") of the first entry.
		start := p.src.lineStarts[first.Line-1]
		keyOff := p.src.offset(first.Line, first.Column)
		dash := string(p.src.b[start:keyOff])
		if strings.Trim(dash, " -") != "" || !strings.Contains(dash, "-") {
			dash = indentWidth(images.Column) + "- "
		}
		text, chs := entry(dash, indentWidth(first.Column))
		p.insert(insertion{at: p.src.lineEnd(sp.end), text: text, changes: chs})
	case images != nil && (images.Kind == yaml.SequenceNode || images.Tag == "!!null" && images.Value == ""):
		// images: [] or an empty images: key.
		dash := indentWidth(imagesK.Column) + strings.Repeat(" ", p.seqIndent(root)) + "- "
		text, chs := entry(dash, strings.Repeat(" ", len(dash)))
		if images.Kind == yaml.SequenceNode {
			at := p.src.offset(images.Line, images.Column)
			end := strings.IndexByte(string(p.src.b[at:p.src.lineEnd(at)]), ']')
			if at < 0 || p.src.b[at] != '[' || end < 0 {
				return &UnsupportedError{File: p.file, Path: "images", Line: images.Line, Reason: "cannot locate the empty images list"}
			}
			colon, ok := p.src.emptyValueAt(imagesK)
			if !ok {
				return &UnsupportedError{File: p.file, Path: "images", Line: images.Line, Reason: "cannot locate the empty images list"}
			}
			// Drop " []" and add the entries below the key, keeping any
			// comment on the key's line.
			p.insert(insertion{at: colon, end: at + end + 1})
			p.insert(insertion{at: p.src.lineEnd(at), text: text, changes: chs})
			return nil
		}
		at, ok := p.src.bareValueAt(imagesK)
		if !ok {
			return &UnsupportedError{File: p.file, Path: "images", Line: imagesK.Line, Reason: "cannot locate the empty images value"}
		}
		p.insert(insertion{at: at, text: text, changes: chs})
	case images != nil:
		return &PathError{File: p.file, Path: "images", Line: images.Line, Reason: "images is not a list"}
	default:
		if ndocs > 1 {
			return &UnsupportedError{File: p.file, Path: "images", Line: root.Line, Reason: "cannot add an images list to a multi-document kustomization"}
		}
		if root.Style&yaml.FlowStyle != 0 {
			return &UnsupportedError{File: p.file, Path: "images", Line: root.Line, Reason: "cannot add images to a flow-style kustomization"}
		}
		dash := indentWidth(root.Column) + strings.Repeat(" ", p.seqIndent(root)) + "- "
		text, chs := entry(dash, strings.Repeat(" ", len(dash)))
		head := indentWidth(root.Column) + "images:"
		at := len(p.src.b)
		lead := ""
		if at > 0 && !endsWithBreak(p.src.b) {
			lead = p.src.eol
		}
		// The entry text starts with a line break; the file keeps (or
		// lacks) its final newline as before.
		text = lead + head + text
		for i := range chs {
			chs[i].off += len(lead + head)
		}
		if lead == "" {
			text += p.src.eol
		}
		p.insert(insertion{at: at, text: text, changes: chs})
	}
	return nil
}

func endsWithBreak(b []byte) bool {
	return len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r')
}

// seqIndent returns how far this file indents block sequences under their
// key (0 for "key:\n- x", 2 for "key:\n  - x"), judged from the first
// top-level block sequence; kustomize's own style (0) otherwise.
func (p *planner) seqIndent(root *yaml.Node) int {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
			first := v.Content[0]
			off := p.src.offset(first.Line, first.Column)
			start := p.src.lineStarts[first.Line-1]
			line := string(p.src.b[start:off])
			if d := strings.IndexByte(line, '-'); d >= 0 && strings.TrimLeft(line[:d], " ") == "" {
				if n := d - (k.Column - 1); n >= 0 {
					return n
				}
			}
		}
	}
	return 0
}
