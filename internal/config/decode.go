package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Position is a 1-based line and column in the config file.
type Position struct {
	Line, Column int
}

// decoder walks a yaml.Node tree against the Go types, collecting every
// problem instead of stopping at the first, and remembering where each key
// path was written so that later validation can point at it.
type decoder struct {
	file     string
	problems []Problem
	pos      map[string]Position
	present  map[string]bool
}

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: d.file, Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!int":
			return fmt.Sprintf("the number %s", n.Value)
		case "!!float":
			return fmt.Sprintf("the number %s", n.Value)
		case "!!bool":
			return fmt.Sprintf("the boolean %s", n.Value)
		default:
			return fmt.Sprintf("the string %q", n.Value)
		}
	}
	return "an unsupported node"
}

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// fieldInfo describes one struct field as the config file sees it.
type fieldInfo struct {
	index    int
	key      string
	doc      string
	def      string
	enum     []string
	enumItem []string
	required bool
	pattern  string
	minimum  *float64
}

func structFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		key, _, _ := strings.Cut(tag, ",")
		if key == "" || key == "-" {
			continue
		}
		fi := fieldInfo{
			index:    i,
			key:      key,
			doc:      f.Tag.Get("doc"),
			def:      f.Tag.Get("default"),
			required: f.Tag.Get("required") == "true",
			pattern:  f.Tag.Get("pattern"),
		}
		if e := f.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		if e := f.Tag.Get("enumItems"); e != "" {
			fi.enumItem = strings.Split(e, ",")
		}
		if m := f.Tag.Get("minimum"); m != "" {
			v, err := strconv.ParseFloat(m, 64)
			if err != nil {
				panic(fmt.Sprintf("config: bad minimum tag on %s.%s", t.Name(), f.Name))
			}
			fi.minimum = &v
		}
		out = append(out, fi)
	}
	return out
}

// decode fills v from n. path is the key path of v, e.g. services[2].paths.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.addf(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.pos[p] = Position{item.Line, item.Column}
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.addf(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if seen[k.Value] {
				d.addf(k, p, "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			d.pos[p] = Position{k.Line, k.Column}
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, p)
			m.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
		v.Set(m)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	byKey := make(map[string]fieldInfo, len(fields))
	for _, f := range fields {
		byKey[f.key] = f
	}
	seen := map[string]bool{}
	var merge []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merge = append(merge, val)
			continue
		}
		p := joinPath(path, k.Value)
		f, ok := byKey[k.Value]
		if !ok {
			d.addf(k, p, "unknown key %q%s", k.Value, suggest(k.Value, fields))
			continue
		}
		if seen[k.Value] {
			d.addf(k, p, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		d.field(k, val, v.Field(f.index), f, p)
	}
	// Merge keys (<<: *anchor) fill only what the mapping itself did not set.
	for _, m := range merge {
		m = resolveAlias(m)
		if m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i], m.Content[i+1]
			if f, ok := byKey[k.Value]; ok && !seen[k.Value] {
				seen[k.Value] = true
				d.field(k, val, v.Field(f.index), f, joinPath(path, k.Value))
			}
		}
	}
	for _, f := range fields {
		if f.required && !seen[f.key] {
			d.addf(n, joinPath(path, f.key), "missing required key %q (%s)", f.key, f.doc)
		}
	}
}

// field decodes one struct field written at key k, then checks its
// constraints unless decoding already reported a problem.
func (d *decoder) field(k, val *yaml.Node, fv reflect.Value, f fieldInfo, p string) {
	d.pos[p] = Position{k.Line, k.Column}
	d.present[p] = true
	before := len(d.problems)
	d.decode(val, fv, p)
	if len(d.problems) == before {
		d.checkConstraints(val, fv, f, p)
	}
}

func (d *decoder) checkConstraints(n *yaml.Node, v reflect.Value, f fieldInfo, path string) {
	n = resolveAlias(n)
	if len(f.enum) > 0 && v.Kind() == reflect.String && v.String() != "" && !contains(f.enum, v.String()) {
		d.addf(n, path, "invalid value %q: expected one of %s", v.String(), strings.Join(f.enum, ", "))
	}
	if len(f.enumItem) > 0 && v.Kind() == reflect.Slice {
		for i := 0; i < v.Len(); i++ {
			s := v.Index(i).String()
			if !contains(f.enumItem, s) {
				item := n
				if n.Kind == yaml.SequenceNode && i < len(n.Content) {
					item = n.Content[i]
				}
				d.addf(item, fmt.Sprintf("%s[%d]", path, i), "invalid value %q: expected one of %s", s, strings.Join(f.enumItem, ", "))
			}
		}
	}
	if f.pattern != "" && v.Kind() == reflect.String && v.String() != "" {
		if !regexp.MustCompile(f.pattern).MatchString(v.String()) {
			d.addf(n, path, "invalid value %q: must match %s", v.String(), f.pattern)
		}
	}
	if f.minimum != nil {
		var x float64
		switch v.Kind() {
		case reflect.Int, reflect.Int64:
			x = float64(v.Int())
		case reflect.Float64:
			x = v.Float()
		default:
			return
		}
		if x < *f.minimum && d.present[path] {
			d.addf(n, path, "invalid value %v: must be at least %v", x, *f.minimum)
		}
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.addf(n, path, "expected %s, got %s", scalarKindName(v.Kind()), kindName(n))
		return
	}
	tag := n.ShortTag()
	if tag == "!!null" {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		if tag != "!!bool" {
			d.addf(n, path, "expected a boolean (true or false), got %s", kindName(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if tag != "!!int" {
			d.addf(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		var x int64
		if err := n.Decode(&x); err != nil {
			d.addf(n, path, "expected an integer, got %s", kindName(n))
			return
		}
		v.SetInt(x)
	case reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			d.addf(n, path, "expected a number, got %s", kindName(n))
			return
		}
		var x float64
		if err := n.Decode(&x); err != nil || math.IsNaN(x) {
			d.addf(n, path, "expected a number, got %s", kindName(n))
			return
		}
		v.SetFloat(x)
	default:
		panic(fmt.Sprintf("config: unsupported field kind %s at %s", v.Kind(), path))
	}
}

func scalarKindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return k.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest names the closest known key, or lists the known keys.
func suggest(key string, fields []fieldInfo) string {
	best, bestDist := "", 1<<30
	keys := make([]string, 0, len(fields))
	for _, f := range fields {
		keys = append(keys, f.key)
		if dist := levenshtein(strings.ToLower(key), strings.ToLower(f.key)); dist < bestDist {
			best, bestDist = f.key, dist
		}
	}
	if best != "" && bestDist <= max(2, len(key)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	sort.Strings(keys)
	return fmt.Sprintf(" (expected one of: %s)", strings.Join(keys, ", "))
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
