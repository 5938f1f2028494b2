// Package rewrite changes image references in Helm values files,
// kustomizations and Kubernetes manifests without re-serialising them.
//
// Nodes are located with gopkg.in/yaml.v3 (which records the line and column
// of every node) and the new values are spliced into the original bytes, so
// comments, blank lines, indentation, key order, quoting, block scalars,
// anchors, CRLF line endings and a missing final newline all survive: the diff
// a reviewer sees touches only the values that changed. Rewrite is pure;
// RewriteFile adds an atomic write around it.
package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Change is one value that was (or, for a dry run, would be) rewritten. The
// change set drives commit messages and pull request bodies.
type Change struct {
	File string
	// Doc is the 0-based document index in a multi-document file.
	Doc int
	// Path is the YAML path of the value, e.g. image.tag, spec.values.image.digest
	// or images[2].newTag.
	Path string
	// Line is the 1-based line of the value in the rewritten file.
	Line int
	// Field says what the value holds: tag, digest, ref (a whole
	// REPO:TAG@DIGEST string) or name (a repository).
	Field string
	// Old is the previous value ("" for a value that was inserted); New the new one.
	Old, New string
	// Repository is the image repository of the update that caused the change.
	Repository string
}

// Skip records an image reference that matched an update but was
// deliberately left alone, with the reason (e.g. a shared tag without
// config saying it may change).
type Skip struct {
	Path       string
	Line       int
	Repository string
	Reason     string
}

// Result is the typed change set of one file.
type Result struct {
	File    string
	Changes []Change
	Skipped []Skip
	// SkipReason is set when the whole file was not parsed (Helm templates).
	SkipReason string
}

// Changed reports whether any byte of the file changes.
func (r Result) Changed() bool { return len(r.Changes) > 0 }

// Rewrite applies updates to the YAML in in and returns the new bytes and the
// change set. It never re-serialises: only the bytes of the target scalars
// change (plus, in kustomizations, inserted images entries or keys). Rewriting
// to the current values returns in unchanged with no changes. On error out is
// in, unchanged, and the error is one of *ParseError, *AmbiguousError,
// *PathError, *ConflictError or *UnsupportedError naming file:line.
//
// file is used for messages, for recognising kustomization files by name and
// for skipping Helm templates/ (which are Go templates, not YAML).
func Rewrite(file string, in []byte, updates []Update, opts ...Option) ([]byte, Result, error) {
	res := Result{File: file}
	o, err := buildOptions(opts)
	if err != nil {
		return in, res, err
	}
	for _, u := range updates {
		if err := u.validate(); err != nil {
			return in, res, err
		}
	}
	if reason := skipReason(file); reason != "" {
		res.SkipReason = reason
		return in, res, nil
	}
	docs, err := parseDocs(file, in)
	if err != nil {
		return in, res, err
	}
	p := &planner{file: file, src: newSource(in), o: o, updates: updates, docs: docs, targets: map[*yaml.Node]*target{}, handled: map[string]bool{}}
	if err := p.plan(); err != nil {
		return in, res, err
	}
	out, changes, err := p.apply()
	if err != nil {
		return in, res, err
	}
	if len(changes) > 0 {
		// Safety net: the result must parse to the same documents with only
		// the target values changed (and, in kustomizations, entries added).
		again, err := parseDocs(file, out)
		if err != nil || len(again) != len(docs) {
			return in, res, fmt.Errorf("%s: internal error: rewritten YAML does not parse back (%v); file left untouched", file, err)
		}
		for i := range docs {
			if n := p.verify(docs[i], again[i]); n != nil {
				return in, res, &UnsupportedError{File: file, Line: n.Line, Path: "(document " + strconv.Itoa(i) + ")",
					Reason: "the edit would change a value that was not targeted (e.g. a block scalar without a final newline); file left untouched"}
			}
		}
	}
	res.Changes, res.Skipped = changes, p.skipped
	return out, res, nil
}

// skipReason says why a file is never parsed, or "".
func skipReason(file string) string {
	if slices.Contains(strings.Split(filepath.ToSlash(file), "/"), "templates") {
		return "Helm chart templates/ hold Go templates, not YAML; not parsed"
	}
	return ""
}

var lineRE = regexp.MustCompile(`^yaml: line (\d+): `)

var yaml12RE = regexp.MustCompile(`(?m)^%YAML 1\.2([ \t\r]|$)`)

func parseDocs(file string, in []byte) ([]*yaml.Node, error) {
	if yaml12RE.Match(in) {
		// yaml.v3 refuses a %YAML 1.2 directive although it parses the
		// documents fine; parse a copy that says 1.1 (same length, so
		// every position stays valid).
		in = yaml12RE.ReplaceAllFunc(bytes.Clone(in), func(m []byte) []byte {
			m = bytes.Clone(m)
			m[8] = '1'
			return m
		})
	}
	dec := yaml.NewDecoder(bytes.NewReader(in))
	var docs []*yaml.Node
	for {
		n := new(yaml.Node)
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			pe := &ParseError{File: file, Err: err}
			if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
				pe.Line, _ = strconv.Atoi(m[1])
				pe.Err = errors.New(strings.TrimPrefix(err.Error(), m[0]))
			}
			return nil, pe
		}
		docs = append(docs, n)
	}
}

// isKustomizationFile reports whether a file is a kustomization by name.
func isKustomizationFile(file string) bool {
	switch path.Base(filepath.ToSlash(file)) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// target is one scalar to set.
type target struct {
	node, key *yaml.Node // key is nil for sequence items
	path      string
	doc       int
	field     string
	value     string
	repo      string
	flow      bool
}

// insertion is text added at an offset (kustomize entries and keys),
// replacing the bytes up to end when end > at (an empty flow list).
type insertion struct {
	at, end int
	text    string
	changes []insertedChange
}

type insertedChange struct {
	off int // offset of the value inside text
	ch  Change
}

// claim is a search-mode match, kept to detect ambiguous layouts.
type claim struct {
	layout string
	path   string
	line   int
}

type planner struct {
	file    string
	src     *source
	o       *options
	updates []Update
	docs    []*yaml.Node

	targets    map[*yaml.Node]*target
	order      []*yaml.Node
	insertions []insertion
	insertKeys map[string]string // entry/field → value, to detect conflicting inserts
	handled    map[string]bool   // normalised repositories handled by markers or paths
	claims     map[string][]claim
	skipped    []Skip
}

func (p *planner) plan() error {
	for i, d := range p.docs {
		if err := p.markers(d, i); err != nil {
			return err
		}
	}
	if err := p.explicitPaths(); err != nil {
		return err
	}
	if p.o.markersOnly {
		return nil
	}
	p.claims = map[string][]claim{}
	byName := isKustomizationFile(p.file)
	for i, d := range p.docs {
		root := docRoot(d)
		if root == nil {
			continue
		}
		if byName || isKustomizationDoc(root) {
			if err := p.kustomize(root, i, len(p.docs)); err != nil {
				return err
			}
			continue
		}
		if err := p.search(root, "", i, globalRegistries(root), false); err != nil {
			return err
		}
	}
	for _, u := range p.updates {
		cs := p.claims[normalizeRepository(u.Repository)]
		for _, c := range cs {
			if c.layout != cs[0].layout {
				e := &AmbiguousError{File: p.file, Repository: u.Repository}
				for _, c := range cs {
					e.Matches = append(e.Matches, Match{Path: c.path, Line: c.line, Layout: c.layout})
				}
				return e
			}
		}
	}
	return nil
}

func docRoot(d *yaml.Node) *yaml.Node {
	if d.Kind == yaml.DocumentNode && len(d.Content) == 1 {
		return d.Content[0]
	}
	return nil
}

// set records that node must hold value. Setting one node twice to the same
// value (an anchor reached through two aliases) is one change; to different
// values it is a conflict.
func (p *planner) set(t *target) error {
	if prev, ok := p.targets[t.node]; ok {
		if prev.value != t.value {
			return &ConflictError{File: p.file, Path: prev.path, Line: t.node.Line, Values: []string{prev.value, t.value}}
		}
		return nil
	}
	if t.node.Anchor != "" {
		// Reached through an alias or merge key: report where the bytes
		// change, the anchor.
		if doc, path, ok := p.pathOf(t.node); ok {
			t.doc, t.path = doc, path
		}
	}
	if t.node.Kind != yaml.ScalarNode {
		return &PathError{File: p.file, Path: t.path, Line: t.node.Line, Reason: "holds a " + kindName(t.node) + ", not a scalar value"}
	}
	p.targets[t.node] = t
	p.order = append(p.order, t.node)
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	}
	return "scalar"
}

func (p *planner) insert(ins insertion) {
	p.insertions = append(p.insertions, ins)
}

// apply turns targets and insertions into edits on the source bytes.
func (p *planner) apply() ([]byte, []Change, error) {
	type edit struct {
		start, end int
		text       string
		changes    []insertedChange
	}
	var edits []edit
	for _, n := range p.order {
		t := p.targets[n]
		if n.Value == t.value && isString(n) {
			continue
		}
		ch := Change{File: p.file, Doc: t.doc, Path: t.path, Field: t.field, Old: n.Value, New: t.value, Repository: t.repo}
		if n.Tag == "!!null" {
			ch.Old = ""
		}
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && n.Tag == "!!null" && n.Value == "" && t.key != nil {
			at, ok := p.src.emptyValueAt(t.key)
			if !ok {
				return nil, nil, &UnsupportedError{File: p.file, Path: t.path, Line: n.Line, Reason: "cannot locate the empty value"}
			}
			edits = append(edits, edit{at, at, " " + formatScalar(t.value, 0, t.flow, p.o.quote), []insertedChange{{1, ch}}})
			continue
		}
		sp, reason := p.src.scalarSpan(n)
		if reason != "" {
			return nil, nil, &UnsupportedError{File: p.file, Path: t.path, Line: n.Line, Reason: reason}
		}
		style := n.Style
		if style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			style = 0
		}
		edits = append(edits, edit{sp.start, sp.end, formatScalar(t.value, style, t.flow, p.o.quote), []insertedChange{{0, ch}}})
	}
	for _, ins := range p.insertions {
		edits = append(edits, edit{ins.at, max(ins.at, ins.end), ins.text, ins.changes})
	}
	if len(edits) == 0 {
		return p.src.b, nil, nil
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var out bytes.Buffer
	out.Grow(len(p.src.b) + 256)
	type placed struct {
		pos int
		ch  Change
	}
	var pl []placed
	last := 0
	for _, e := range edits {
		if e.start < last {
			return nil, nil, fmt.Errorf("%s: internal error: overlapping edits at byte %d", p.file, e.start)
		}
		out.Write(p.src.b[last:e.start])
		for _, c := range e.changes {
			pl = append(pl, placed{out.Len() + c.off, c.ch})
		}
		out.WriteString(e.text)
		last = e.end
	}
	out.Write(p.src.b[last:])
	res := out.Bytes()
	outSrc := newSource(res)
	changes := make([]Change, len(pl))
	for i, x := range pl {
		x.ch.Line = outSrc.lineOf(x.pos)
		changes[i] = x.ch
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Line < changes[j].Line })
	return res, changes, nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// lookup finds key name in mapping m, honouring merge keys (<<) after local
// keys as YAML does. The value is resolved through aliases so that a change
// lands at the anchor.
func lookup(m *yaml.Node, name string) (key, val *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == name && k.Tag != "!!merge" {
			return k, resolve(m.Content[i+1])
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Tag != "!!merge" {
			continue
		}
		v := resolve(m.Content[i+1])
		srcs := []*yaml.Node{v}
		if v != nil && v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, s := range srcs {
			if k, val := lookup(s, name); val != nil {
				return k, val
			}
		}
	}
	return nil, nil
}

// scalarValue returns the value of a scalar node, or "" for anything else.
func scalarValue(n *yaml.Node) string {
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return n.Value
	}
	return ""
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// pathOf finds the path of a node in its defining position (not through
// aliases).
func (p *planner) pathOf(target *yaml.Node) (int, string, bool) {
	var find func(n *yaml.Node, path string) (string, bool)
	find = func(n *yaml.Node, path string) (string, bool) {
		if n == target {
			return path, true
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if r, ok := find(c, path); ok {
					return r, true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if r, ok := find(n.Content[i+1], joinPath(path, n.Content[i].Value)); ok {
					return r, true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if r, ok := find(c, fmt.Sprintf("%s[%d]", path, i)); ok {
					return r, true
				}
			}
		}
		return "", false
	}
	for i, d := range p.docs {
		if r, ok := find(d, ""); ok {
			return i, r, true
		}
	}
	return 0, "", false
}

// verify walks the original and rewritten trees in step and returns the
// first original node whose value changed without being a target, or nil.
func (p *planner) verify(a, b *yaml.Node) *yaml.Node {
	inserted := len(p.insertions) > 0
	if a.Kind != b.Kind {
		if inserted && b.Kind == yaml.SequenceNode && (a.Kind == yaml.ScalarNode && a.Tag == "!!null" || a.Kind == yaml.SequenceNode) {
			return nil
		}
		return a
	}
	switch a.Kind {
	case yaml.ScalarNode:
		if _, ok := p.targets[a]; !ok && (a.Value != b.Value || a.Tag != b.Tag) {
			return a
		}
	case yaml.AliasNode:
		if a.Value != b.Value {
			return a
		}
	case yaml.MappingNode:
		// Inserted keys may sit between existing ones: match pairs in order,
		// skipping extra pairs of b.
		j := 0
		for i := 0; i+1 < len(a.Content); i += 2 {
			for inserted && j+1 < len(b.Content) && b.Content[j].Value != a.Content[i].Value {
				j += 2
			}
			if j+1 >= len(b.Content) {
				return a
			}
			if n := p.verify(a.Content[i], b.Content[j]); n != nil {
				return n
			}
			if n := p.verify(a.Content[i+1], b.Content[j+1]); n != nil {
				return n
			}
			j += 2
		}
		if !inserted && j != len(b.Content) {
			return a
		}
	default:
		if len(b.Content) < len(a.Content) || len(b.Content) != len(a.Content) && !inserted {
			return a
		}
		for i := range a.Content {
			if n := p.verify(a.Content[i], b.Content[i]); n != nil {
				return n
			}
		}
	}
	return nil
}
