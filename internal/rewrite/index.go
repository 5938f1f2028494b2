package rewrite

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// defaultMergeLimit caps the work merge keys may cause in one file: the
// number of key entries copied while flattening every mapping's merge
// sources. Real files stay far below it; a file built to explode (nested
// `<<: [*a, *a, …]`) is refused with its file and line instead of stalling.
const defaultMergeLimit = 1 << 20

// entry is one key of a flattened mapping. val is resolved through aliases;
// own is true when the key is written in the mapping itself and its value is
// not an alias (the value belongs to this mapping, not to an anchor source).
type entry struct {
	key, val *yaml.Node
	alias    *yaml.Node // the alias node when the mapping's own value is an alias
	own      bool
}

// index answers key lookups in mappings, honouring merge keys (<<), with
// every mapping flattened at most once. Without the memo a lookup re-walks
// the merge sources per key, which is exponential in nested merges.
type index struct {
	flat  map[*yaml.Node]map[string]entry
	busy  map[*yaml.Node]bool
	steps int
	limit int
	over  *yaml.Node // the mapping where the limit was exceeded
}

func newIndex(limit int) *index {
	if limit <= 0 {
		limit = defaultMergeLimit
	}
	return &index{flat: map[*yaml.Node]map[string]entry{}, busy: map[*yaml.Node]bool{}, limit: limit}
}

// table returns the flattened keys of mapping m: its own keys first, then
// those of its merge sources in order (an earlier source wins), as YAML's
// merge key type defines.
func (ix *index) table(m *yaml.Node) map[string]entry {
	if t, ok := ix.flat[m]; ok {
		return t
	}
	if ix.busy[m] {
		return nil
	}
	ix.busy[m] = true
	defer delete(ix.busy, m)
	t := map[string]entry{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			continue
		}
		if _, ok := t[k.Value]; !ok {
			ix.steps++
			raw := m.Content[i+1]
			t[k.Value] = entry{key: k, val: resolve(raw), alias: aliasOf(raw), own: raw.Kind != yaml.AliasNode}
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
			s = resolve(s)
			if s == nil || s.Kind != yaml.MappingNode {
				continue
			}
			for name, e := range ix.table(s) {
				ix.steps++
				if ix.steps > ix.limit {
					if ix.over == nil {
						ix.over = m
					}
					ix.flat[m] = t
					return t
				}
				if _, ok := t[name]; !ok {
					e.alias, e.own = nil, false
					t[name] = e
				}
			}
		}
	}
	ix.flat[m] = t
	return t
}

// lookup finds key name in mapping m (resolved through aliases), honouring
// merge keys. The value is resolved so that a change lands at the anchor.
func (ix *index) lookup(m *yaml.Node, name string) (key, val *yaml.Node) {
	e := ix.entry(m, name)
	return e.key, e.val
}

// entry is lookup with the alias written in m itself, if any.
func (ix *index) entry(m *yaml.Node, name string) entry {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return entry{}
	}
	return ix.table(m)[name]
}

// value returns the scalar value at key name of m, or "".
func (ix *index) value(m *yaml.Node, name string) string {
	return scalarValue(second(ix.lookup(m, name)))
}

// err reports an exceeded limit as a *LimitError.
func (ix *index) err(file string) error {
	if ix.over == nil {
		return nil
	}
	return &LimitError{File: file, Line: ix.over.Line, Limit: ix.limit}
}

// LimitError reports a file whose merge keys (<<) expand beyond the work
// limit; the file is refused, never rewritten.
type LimitError struct {
	File  string
	Line  int
	Limit int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: merge keys (<<) expand to more than %d entries (nested merges of aliases); file refused", fileLine(e.File, e.Line), e.Limit)
}
