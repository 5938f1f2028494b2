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
	// Removed is set when the field was deleted (a stale kustomize digest);
	// Line is then its line in the original file and New is "".
	Removed bool
}

// Skip records an image site that an update names (or nearly names: same
// image path under another registry, a templated repository) but that was
// left alone, with the reason: already at the requested value, a shared tag
// without config saying it may change, no tag field, another registry.
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
	// Applied lists the repositories of the updates that some site of the
	// file holds now: changed, inserted, or already at the requested value.
	// An update absent from Applied of every file was not applied anywhere.
	Applied []string
}

// Changed reports whether any byte of the file changes.
func (r Result) Changed() bool { return len(r.Changes) > 0 }

// Rewrite applies updates to the YAML in in and returns the new bytes and the
// change set. It never re-serialises: only the bytes of the target scalars
// change (plus, in kustomizations, inserted images entries or keys). Rewriting
// to the current values returns in unchanged with no changes. On error out is
// in, unchanged, and the error is one of *ParseError, *AmbiguousError,
// *PathError, *ConflictError, *UnsupportedError, *SharedValueError or
// *LimitError naming file:line.
//
// Editing one image never changes another image's value: a value shared
// through an anchor by sites of other images is not edited (an alias at the
// edited site is replaced by its own value, otherwise the file is refused),
// and after the edit the resolved image of every site, aliases and merge
// keys included, is compared with the original.
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
	p := &planner{file: file, src: newSource(in), o: o, updates: updates, ux: newUpdateIndex(updates), docs: docs, targets: map[*yaml.Node]*target{}, handled: map[string]bool{},
		ix: newIndex(o.mergeLimit), removed: map[*yaml.Node]bool{}}
	err = p.plan()
	if o.stats != nil {
		*o.stats = p.ix.steps
	}
	if lerr := p.ix.err(file); lerr != nil {
		return in, res, lerr
	}
	if err != nil {
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
		var edited []editedValue
		for _, t := range p.targets {
			edited = append(edited, editedValue{t.doc, t.written, t.node})
		}
		if err := verifySites(file, docs, again, updates, newIndex(o.mergeLimit), newIndex(o.mergeLimit), edited...); err != nil {
			return in, res, err
		}
	}
	res.Changes, res.Skipped, res.Applied = changes, p.skipped, p.applied
	return out, res, nil
}

// skipReason says why a file is never parsed, or "".
func skipReason(file string) string {
	if slices.Contains(strings.Split(filepath.ToSlash(file), "/"), "templates") {
		return "Helm chart templates/ hold Go templates, not YAML; not parsed"
	}
	return ""
}

var lineRE = lazyRegexp(`^yaml: line (\d+): `)

// yaml12Directive is the directive yaml.v3 refuses; see asYAML11.
var yaml12Directive = []byte("%YAML 1.2")

// asYAML11 returns in with every `%YAML 1.2` directive (at a line start,
// followed by blank or end of line) turned into `%YAML 1.1`: yaml.v3 refuses
// the 1.2 directive although it parses the documents fine. The copy has the
// same length, so every position stays valid; in itself is returned when it
// has no such directive. Written as a byte search rather than a multi-line
// regexp, which was a quarter of rewrite's CPU on files without directives.
func asYAML11(in []byte) []byte {
	var out []byte
	for off := 0; ; {
		i := bytes.Index(in[off:], yaml12Directive)
		if i < 0 {
			break
		}
		i += off
		off = i + len(yaml12Directive)
		if i > 0 && in[i-1] != '\n' {
			continue
		}
		if off < len(in) && !strings.ContainsRune(" \t\r\n", rune(in[off])) {
			continue
		}
		if out == nil {
			out = bytes.Clone(in)
		}
		out[off-1] = '1'
	}
	if out == nil {
		return in
	}
	return out
}

func parseDocs(file string, in []byte) ([]*yaml.Node, error) {
	in = asYAML11(in)
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
			if m := lineRE().FindStringSubmatch(err.Error()); m != nil {
				pe.Line, _ = strconv.Atoi(m[1])
				pe.Err = errors.New(strings.TrimPrefix(err.Error(), m[0]))
			}
			return nil, pe
		}
		docs = append(docs, n)
	}
}

// isKustomizationDoc recognises a Kustomization or Component by content, for
// files not named kustomization.yaml.
func (ix *index) isKustomizationDoc(root *yaml.Node) bool {
	api, kind := ix.value(root, "apiVersion"), ix.value(root, "kind")
	return strings.HasPrefix(api, "kustomize.config.k8s.io/") && (kind == "Kustomization" || kind == "Component")
}

// isKustomizationFile reports whether a file is a kustomization by name.
func isKustomizationFile(file string) bool {
	switch path.Base(filepath.ToSlash(file)) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// target is one scalar to set (or, with remove, one key to delete).
type target struct {
	node, key *yaml.Node // key is nil for sequence items
	// alias is the alias node written at the site when node was reached
	// through it; the alias is replaced instead of the anchor when the
	// anchored value is shared with another image.
	alias  *yaml.Node
	path   string
	doc    int
	field  string
	value  string
	repo   string
	flow   bool
	remove bool
	// site is the path and line of the image site the value belongs to
	// (for the "already at the requested value" report).
	site     string
	siteLine int
	// written is the path where the value was found, before a change
	// through an anchor is reported at the anchor.
	written string
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
	ux      *updateIndex // finds the updates a site can concern
	docs    []*yaml.Node

	targets    map[*yaml.Node]*target
	order      []*yaml.Node
	insertions []insertion
	insertKeys map[string]string // entry/field → value, to detect conflicting inserts
	handled    map[string]bool   // normalised repositories handled by markers or paths
	claims     map[string][]claim
	skipped    []Skip
	skipSeen   map[Skip]bool
	applied    []string

	ix      *index
	users   map[*yaml.Node][]*site // scalar → the image sites that read it
	removed map[*yaml.Node]bool    // keys of removed fields
}

// skip records a site left alone, once per site, repository and reason.
func (p *planner) skip(s Skip) {
	if p.skipSeen[s] {
		return
	}
	if p.skipSeen == nil {
		p.skipSeen = map[Skip]bool{}
	}
	p.skipSeen[s] = true
	p.skipped = append(p.skipped, s)
}

func (p *planner) plan() error {
	p.users = map[*yaml.Node][]*site{}
	for _, s := range collectSites(p.file, p.docs, p.ix) {
		for _, d := range s.deps {
			p.users[d] = append(p.users[d], s)
		}
	}
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
		if byName || p.ix.isKustomizationDoc(root) {
			if err := p.kustomize(root, i, len(p.docs)); err != nil {
				return err
			}
			continue
		}
		if err := p.search(root, searchScope{doc: i, globals: globalRegistries(p.ix, root)}); err != nil {
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
// values it is a conflict. A value that sites of other images also read
// (through an anchor, alias or merge key) is not edited: the alias written
// at this site is replaced by its own value, or the file is refused.
func (p *planner) set(t *target) error {
	if t.node.Kind != yaml.ScalarNode {
		return &PathError{File: p.file, Path: t.path, Line: t.node.Line, Reason: "holds a " + kindName(t.node) + ", not a scalar value"}
	}
	t.written = t.path
	if others := p.othersReading(t.node, t.doc, t.path, t.repo); len(others) > 0 {
		if t.alias == nil {
			_, def, _ := p.pathOf(t.node)
			return &SharedValueError{UnsupportedError{File: p.file, Line: t.node.Line, Path: def,
				Reason: fmt.Sprintf("this value is shared (anchor, alias or merge key) with %s; setting it for %s would change that image too; give %s its own value", strings.Join(others, ", "), t.repo, t.path)}}
		}
		t.node = t.alias
	}
	if prev, ok := p.targets[t.node]; ok {
		if prev.value != t.value || prev.remove != t.remove {
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
	p.targets[t.node] = t
	p.order = append(p.order, t.node)
	return nil
}

// othersReading lists the image sites, other than the one holding the value
// at doc/path, that read n and name an image other than repo.
func (p *planner) othersReading(n *yaml.Node, doc int, path, repo string) []string {
	var out []string
	for _, s := range p.users[n] {
		if s.holds(doc, path, n) || s.names(repo) {
			continue
		}
		shared := false
		for _, c := range s.cands {
			shared = shared || underRepository(repo, c)
		}
		if !shared {
			out = append(out, fmt.Sprintf("%s at line %d (%s)", s.path, s.line, strings.Join(s.cands, ", ")))
		}
	}
	return out
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
	applied := map[string]bool{}
	type siteKey struct {
		doc  int
		path string
	}
	siteChanged := map[siteKey]bool{}
	var sites []*target
	for _, n := range p.order {
		t := p.targets[n]
		applied[t.repo] = true
		sk := siteKey{t.doc, t.site}
		if t.site == "" {
			sk.path = t.path
		}
		if _, ok := siteChanged[sk]; !ok {
			siteChanged[sk] = false
			sites = append(sites, t)
		}
		cur := resolve(n)
		if cur.Value == t.value && isString(cur) || t.value == "" && !t.remove && scalarValue(cur) == "" {
			continue
		}
		wasChanged := siteChanged[sk]
		siteChanged[sk] = true
		ch := Change{File: p.file, Doc: t.doc, Path: t.path, Field: t.field, Old: cur.Value, New: t.value, Repository: t.repo}
		if cur.Tag == "!!null" {
			ch.Old = ""
		}
		switch {
		case t.remove:
			start, end, ok := p.src.lineSpan(t.key, n)
			if !ok {
				return nil, nil, &UnsupportedError{File: p.file, Path: t.path, Line: n.Line, Reason: "cannot locate the line to remove"}
			}
			ch.Removed, ch.Line = true, t.key.Line
			edits = append(edits, edit{start, end, "", []insertedChange{{off: -1, ch: ch}}})
			p.removed[t.key] = true
			continue
		case n.Kind == yaml.AliasNode:
			off := p.src.offset(n.Line, n.Column)
			if off < 0 || off+1+len(n.Value) > len(p.src.b) || string(p.src.b[off:off+1+len(n.Value)]) != "*"+n.Value {
				return nil, nil, &UnsupportedError{File: p.file, Path: t.path, Line: n.Line, Reason: "alias not found at its position"}
			}
			edits = append(edits, edit{off, off + 1 + len(n.Value), formatScalar(t.value, 0, t.flow, p.o.quote), []insertedChange{{0, ch}}})
			continue
		}
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 && n.Tag == "!!null" && n.Value == "" && t.key != nil {
			at, ok := p.src.bareValueAt(t.key)
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
		text := formatScalar(t.value, style, t.flow, p.o.quote)
		if string(p.src.b[sp.start:sp.end]) == text {
			// The bytes already say it: a value under a local tag (!foo
			// 1.2.3), which the splice keeps, is no string to isString
			// but is what an earlier run wrote.
			siteChanged[sk] = wasChanged
			continue
		}
		edits = append(edits, edit{sp.start, sp.end, text, []insertedChange{{0, ch}}})
	}
	for _, t := range sites {
		sk := siteKey{t.doc, t.site}
		line := t.siteLine
		if t.site == "" {
			sk.path, line = t.path, t.node.Line
		}
		if !siteChanged[sk] {
			p.skip(Skip{Path: sk.path, Line: line, Repository: t.repo, Reason: "already at the requested value"})
		}
	}
	for _, ins := range p.insertions {
		edits = append(edits, edit{ins.at, max(ins.at, ins.end), ins.text, ins.changes})
		for _, c := range ins.changes {
			applied[c.ch.Repository] = true
		}
	}
	for _, u := range p.updates {
		if applied[u.Repository] {
			p.applied = append(p.applied, u.Repository)
		}
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
			pos := -1
			if c.off >= 0 {
				pos = out.Len() + c.off
			}
			pl = append(pl, placed{pos, c.ch})
		}
		out.WriteString(e.text)
		last = e.end
	}
	out.Write(p.src.b[last:])
	res := out.Bytes()
	outSrc := newSource(res)
	changes := make([]Change, len(pl))
	for i, x := range pl {
		if x.pos >= 0 {
			x.ch.Line = outSrc.lineOf(x.pos)
		}
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
	if t, ok := p.targets[a]; ok && a.Kind == yaml.AliasNode && !t.remove && b.Kind == yaml.ScalarNode {
		return nil // an alias replaced by its own value
	}
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
			if p.removed[a.Content[i]] {
				continue
			}
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
