package detect

import (
	"fmt"
	"path"
	"strings"
)

// Glob is a compiled slash-separated path pattern, relative to the
// repository root. Segments are matched with path.Match syntax (*, ?, [a-z],
// \ escapes); a segment that is exactly ** matches zero or more whole
// segments. A pattern matches a path when it matches the path itself or any of
// its parent directories, so "libs/common" and "libs/common/**" both match
// every file below libs/common.
type Glob struct {
	pattern string
	segs    []string
	// prefix is the number of leading segments without metacharacters: they
	// form the literal directory under which every match lies.
	prefix  int
	literal bool
}

// CompileGlob compiles pattern. A leading "./" or "/" is removed; "." and ""
// mean the repository root (everything). A bad pattern names itself.
func CompileGlob(pattern string) (*Glob, error) {
	p := strings.TrimPrefix(strings.TrimPrefix(pattern, "./"), "/")
	if p != "" {
		p = path.Clean(p)
	}
	if p == "." || p == "" {
		return &Glob{pattern: pattern, literal: true}, nil
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return nil, fmt.Errorf("pattern %q points outside the repository", pattern)
	}
	g := &Glob{pattern: pattern, segs: strings.Split(p, "/")}
	g.prefix = len(g.segs)
	for i, s := range g.segs {
		if s != "**" {
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("invalid glob %q: segment %q: %w", pattern, s, err)
			}
		}
		if hasMeta(s) && g.prefix == len(g.segs) {
			g.prefix = i
		}
	}
	g.literal = g.prefix == len(g.segs)
	return g, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// String returns the pattern as written.
func (g *Glob) String() string { return g.pattern }

// Prefix returns the literal leading directories of the pattern (every match
// lies under them), "" for patterns starting with a metacharacter.
func (g *Glob) Prefix() []string { return g.segs[:g.prefix] }

// Match reports whether the slash-separated path p matches.
func (g *Glob) Match(p string) bool { return g.matchSegs(strings.Split(p, "/")) }

// matchSegs matches pre-split path segments; it matches when the pattern
// matches the path or one of its parents.
func (g *Glob) matchSegs(ps []string) bool {
	if g.literal {
		if len(ps) < len(g.segs) {
			return false
		}
		for i, s := range g.segs {
			if ps[i] != s {
				return false
			}
		}
		return true
	}
	return matchPrefix(g.segs, ps)
}

// matchPrefix reports whether pat matches ps[:k] for some k ≥ 1 (the path or
// one of its parent directories).
func matchPrefix(pat, ps []string) bool {
	if len(pat) == 0 {
		return true // matched a parent directory (or the path itself)
	}
	if pat[0] == "**" {
		rest := pat[1:]
		if len(rest) == 0 {
			return len(ps) > 0
		}
		for i := 0; i <= len(ps); i++ {
			if matchPrefix(rest, ps[i:]) {
				return true
			}
		}
		return false
	}
	if len(ps) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], ps[0]); !ok {
		return false
	}
	return matchPrefix(pat[1:], ps[1:])
}

// PatternList is an ordered list of globs where a leading "!" excludes, like
// .gitignore: the last pattern that matches a path decides, so
// ["src/**", "!src/docs/**", "src/docs/api/**"] selects src/docs/api but no
// other part of src/docs.
type PatternList struct {
	items []listItem
}

type listItem struct {
	glob   *Glob
	negate bool
}

// CompilePatternList compiles patterns in order; the error names the index of
// the first bad pattern through the returned index (−1 when none).
func CompilePatternList(patterns []string) (*PatternList, int, error) {
	pl := &PatternList{}
	for i, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		g, err := CompileGlob(strings.TrimPrefix(p, "!"))
		if err != nil {
			return nil, i, err
		}
		g.pattern = p
		pl.items = append(pl.items, listItem{glob: g, negate: neg})
	}
	return pl, -1, nil
}

// Decide returns the last pattern matching the path, and whether it selects
// (true) or excludes (false) it; ok is false when no pattern matches.
func (pl *PatternList) decide(ps []string) (item *listItem, selected bool) {
	for i := len(pl.items) - 1; i >= 0; i-- {
		it := &pl.items[i]
		if it.glob.matchSegs(ps) {
			return it, !it.negate
		}
	}
	return nil, false
}

// Match reports whether the list selects path p.
func (pl *PatternList) Match(p string) bool {
	_, sel := pl.decide(strings.Split(p, "/"))
	return sel
}
