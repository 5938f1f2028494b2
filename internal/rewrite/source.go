package rewrite

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source indexes the original bytes so yaml.v3 node positions (1-based line,
// 1-based column counted in characters, line breaks as YAML defines them) can
// be turned into byte offsets.
type source struct {
	b          []byte
	lineStarts []int // byte offset of each line; index 0 is line 1
	eol        string
}

func newSource(b []byte) *source {
	s := &source{b: b, lineStarts: make([]int, 1, bytes.Count(b, []byte{'\n'})+2), eol: "\n"}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		s.lineStarts[0] = 3 // yaml.v3 does not count the BOM as a column
	}
	sawEOL := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\n':
			s.lineStarts = append(s.lineStarts, i+1)
			if !sawEOL {
				sawEOL = true
			}
		case c == '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				if !sawEOL {
					s.eol, sawEOL = "\r\n", true
				}
				i++
			} else if !sawEOL {
				s.eol, sawEOL = "\r", true
			}
			s.lineStarts = append(s.lineStarts, i+1)
		case c == 0xC2 && i+1 < len(b) && b[i+1] == 0x85: // NEL
			i++
			s.lineStarts = append(s.lineStarts, i+1)
		case c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9): // LS, PS
			i += 2
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

// offset converts a yaml.v3 position to a byte offset, or -1.
func (s *source) offset(line, col int) int {
	if line < 1 || line > len(s.lineStarts) || col < 1 {
		return -1
	}
	off := s.lineStarts[line-1]
	for c := 1; c < col; c++ {
		if off >= len(s.b) {
			return -1
		}
		_, w := utf8.DecodeRune(s.b[off:])
		off += w
	}
	return off
}

// lineEnd returns the offset of the line break ending the line containing off
// (or len(b) on the last line without one).
func (s *source) lineEnd(off int) int {
	for i := off; i < len(s.b); i++ {
		switch s.b[i] {
		case '\n', '\r':
			return i
		case 0xC2:
			if i+1 < len(s.b) && s.b[i+1] == 0x85 {
				return i
			}
		case 0xE2:
			if i+2 < len(s.b) && s.b[i+1] == 0x80 && (s.b[i+2] == 0xA8 || s.b[i+2] == 0xA9) {
				return i
			}
		}
	}
	return len(s.b)
}

// lineOf returns the 1-based line of a byte offset.
func (s *source) lineOf(off int) int {
	lo, hi := 0, len(s.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if s.lineStarts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// span is the byte range [start, end) of a scalar's text in the source,
// quotes included, anchor and tag properties excluded.
type span struct{ start, end int }

// scalarSpan locates the bytes of a scalar node. It refuses (ok=false with a
// reason) anything it could not rewrite exactly: block scalars, multi-line
// values and positions that do not line up with the text.
func (s *source) scalarSpan(n *yaml.Node) (sp span, reason string) {
	if n.Kind != yaml.ScalarNode {
		return sp, "not a scalar"
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return sp, "block scalar values are not rewritten"
	}
	off := s.offset(n.Line, n.Column)
	if off < 0 {
		return sp, "node position outside the file"
	}
	// Skip node properties: &anchor and !tag, each followed by blanks.
	for off < len(s.b) && (s.b[off] == '&' || s.b[off] == '!') {
		for off < len(s.b) && !isBlank(s.b[off]) {
			off++
		}
		for off < len(s.b) && (s.b[off] == ' ' || s.b[off] == '\t') {
			off++
		}
	}
	if off >= len(s.b) {
		return sp, "node position outside the file"
	}
	end := s.lineEnd(off)
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		if s.b[off] != '"' {
			return sp, "double-quoted value not found at its position"
		}
		for i := off + 1; i < end; i++ {
			switch s.b[i] {
			case '\\':
				i++
			case '"':
				return span{off, i + 1}, ""
			}
		}
		return sp, "multi-line quoted values are not rewritten"
	case n.Style&yaml.SingleQuotedStyle != 0:
		if s.b[off] != '\'' {
			return sp, "single-quoted value not found at its position"
		}
		for i := off + 1; i < end; i++ {
			if s.b[i] == '\'' {
				if i+1 < end && s.b[i+1] == '\'' {
					i++
					continue
				}
				return span{off, i + 1}, ""
			}
		}
		return sp, "multi-line quoted values are not rewritten"
	default:
		if n.Value == "" {
			// An empty plain value carries no bytes to replace; with a tag
			// (`tag: !x`) new text would join the tag.
			return sp, "empty value"
		}
		if off+len(n.Value) > end || string(s.b[off:off+len(n.Value)]) != n.Value {
			return sp, "multi-line plain values are not rewritten"
		}
		return span{off, off + len(n.Value)}, ""
	}
}

// emptyValueAt returns the insertion point for a key with no value
// (`tag:` or `tag: # comment`): right after the colon that follows the key.
func (s *source) emptyValueAt(key *yaml.Node) (int, bool) {
	ks, reason := s.scalarSpan(key)
	if reason != "" {
		return 0, false
	}
	i := ks.end
	for i < len(s.b) && (s.b[i] == ' ' || s.b[i] == '\t') {
		i++
	}
	if i >= len(s.b) || s.b[i] != ':' {
		return 0, false
	}
	return i + 1, true
}

// bareValueAt is emptyValueAt for a key followed by nothing but blanks and a
// comment: an anchor or tag (`tag: &a`) would join an inserted value.
func (s *source) bareValueAt(key *yaml.Node) (int, bool) {
	at, ok := s.emptyValueAt(key)
	if !ok {
		return 0, false
	}
	rest := strings.TrimLeft(string(s.b[at:s.lineEnd(at)]), " \t")
	return at, rest == "" || rest[0] == '#'
}

// indentOf returns the leading blanks and "- " markers of the line holding off,
// up to column col, as spaces: the indentation of a sibling key.
func indentWidth(col int) string { return strings.Repeat(" ", col-1) }

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var (
	yaml11Bool  = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true, "null": true, "~": true}
	yaml11Num   = lazyRegexp(`^[-+]?(?:[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+|(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+|\.inf|\.nan)$`)
	flowUnsafe  = ",[]{}"
	plainUnsafe = "#:&*!|>'\"%@`?-{}[],"
)

// plainSafe reports whether v can be written as a plain scalar and still read
// back as the same string under both YAML 1.2 (yaml.v3, Flux, kyaml) and
// YAML 1.1 (Helm, kubectl, sigs.k8s.io/yaml) rules. Values that look like
// numbers, booleans, nulls or timestamps are not.
func plainSafe(v string, flow bool) bool {
	if v == "" || yaml11Bool[strings.ToLower(v)] || yaml11Num().MatchString(v) {
		return false
	}
	if strings.ContainsAny(v[:1], plainUnsafe) || strings.Contains(v, ": ") || strings.Contains(v, " #") ||
		strings.HasSuffix(v, ":") || strings.ContainsAny(v, "\n\r\t") || v != strings.TrimSpace(v) {
		return false
	}
	if flow && strings.ContainsAny(v, flowUnsafe) {
		return false
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(v), &n); err != nil || len(n.Content) != 1 {
		return false
	}
	c := n.Content[0]
	return c.Kind == yaml.ScalarNode && c.Tag == "!!str" && c.Style == 0 && c.Value == v
}

// formatScalar renders v in the style of the node it replaces: existing double
// or single quotes are kept; a plain value stays plain unless YAML would read
// it as something other than the same string, in which case it is quoted with
// quote.
func formatScalar(v string, style yaml.Style, flow bool, quote byte) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(v)
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case plainSafe(v, flow):
		return v
	case quote == '\'':
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	default:
		return doubleQuote(v)
	}
}

func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isString reports whether a scalar node reads as a string (so an equal value
// needs no rewrite). Plain values that YAML 1.1 tools would read as numbers or
// booleans are not strings even when yaml.v3 says so.
func isString(n *yaml.Node) bool {
	if n.Tag != "!!str" {
		return false
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.TaggedStyle) != 0 {
		return true
	}
	return n.Value == "" || !(yaml11Bool[strings.ToLower(n.Value)] || yaml11Num().MatchString(n.Value))
}

// breakLen returns the length of the line break starting at i, or 0.
func (s *source) breakLen(i int) int {
	switch {
	case i >= len(s.b):
		return 0
	case s.b[i] == '\r' && i+1 < len(s.b) && s.b[i+1] == '\n':
		return 2
	case s.b[i] == '\n' || s.b[i] == '\r':
		return 1
	case s.b[i] == 0xC2:
		return 2
	case s.b[i] == 0xE2:
		return 3
	}
	return 0
}

// lineSpan returns the bytes of the whole line holding `key: value`, line
// break included (or, on a last line without one, the break before it), so
// that removing them leaves every other line as it was. ok is false unless
// the line holds only indentation, the key, the single-line value and an
// optional comment.
func (s *source) lineSpan(key, val *yaml.Node) (start, end int, ok bool) {
	if key == nil || val.Line != key.Line {
		return 0, 0, false
	}
	ks, r1 := s.scalarSpan(key)
	vs, r2 := s.scalarSpan(val)
	if r1 != "" || r2 != "" {
		return 0, 0, false
	}
	ls := s.lineStarts[key.Line-1]
	if strings.Trim(string(s.b[ls:ks.start]), " ") != "" {
		return 0, 0, false
	}
	le := s.lineEnd(vs.end)
	if rest := strings.TrimLeft(string(s.b[vs.end:le]), " \t"); rest != "" && rest[0] != '#' {
		return 0, 0, false
	}
	if le < len(s.b) {
		return ls, le + s.breakLen(le), true
	}
	if ls == 0 {
		return 0, 0, false
	}
	// Last line without a final break: remove the break before it.
	start = ls - 1
	if s.b[start] == '\n' && start > 0 && s.b[start-1] == '\r' {
		start--
	}
	return start, le, true
}

// removable reports whether lineSpan can remove the line of key: value.
func (s *source) removable(key, val *yaml.Node) bool {
	_, _, ok := s.lineSpan(key, val)
	return ok
}
