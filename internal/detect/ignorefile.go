package detect

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// readIgnoreFile returns the patterns of a .dockerignore exactly as
// ignorefile.ReadAll does.
//
// Why by hand: ReadAll reads through a bufio.Scanner, whose 4 KB buffer is
// allocated per call whatever the file's size; with 2,000 distinct
// .dockerignore files that was ~10 MB of a 29 MB plan (BenchmarkPlan,
// dockerfiles=distinct). The rules are ReadAll's, line by line (UTF-8 BOM
// stripped from the first line, "#" lines skipped, blanks trimmed, a leading
// "!" kept, the rest cleaned and made relative); files a Scanner could fail
// on (a line of 64 KB or more) go to ReadAll itself. TestReadIgnoreFile and
// FuzzReadIgnoreFile check the result equals ReadAll's.
func readIgnoreFile(data []byte) ([]string, error) {
	if len(data) >= bufio.MaxScanTokenSize {
		return ignorefile.ReadAll(bytes.NewReader(data))
	}
	var out []string
	text := string(bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF}))
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r") // as bufio.ScanLines
		if strings.HasPrefix(line, "#") {
			continue
		}
		pattern := strings.TrimSpace(line)
		if pattern == "" {
			continue
		}
		invert := pattern[0] == '!'
		if invert {
			pattern = strings.TrimSpace(pattern[1:])
		}
		if len(pattern) > 0 {
			pattern = filepath.ToSlash(filepath.Clean(pattern))
			if len(pattern) > 1 && pattern[0] == '/' {
				pattern = pattern[1:]
			}
		}
		if invert {
			pattern = "!" + pattern
		}
		out = append(out, pattern)
	}
	return out, nil
}

// ignoreSet is one .dockerignore, compiled once and shared by every service
// whose .dockerignore says the same, with results memoised per
// context-relative path.
type ignoreSet struct {
	pats []*ignorePattern
	memo map[string]bool
}

func (s *ignoreSet) excludes(rel string) bool {
	if v, ok := s.memo[rel]; ok {
		return v
	}
	v, err := matchesOrParentMatches(s.pats, rel)
	if err != nil {
		v = false // an unmatchable pattern excludes nothing: never hide a change
	}
	s.memo[rel] = v
	return v
}

// ignorePattern is one .dockerignore pattern compiled by patternmatcher.
type ignorePattern struct {
	// pm holds the pattern alone, or "**" then the pattern for an exclusion
	// (alone, an exclusion matches nothing; after "**", which matches every
	// path, it un-matches exactly the paths it matches).
	pm        *patternmatcher.PatternMatcher
	exclusion bool
}

// patternCache compiles each distinct .dockerignore pattern once per plan:
// patternmatcher compiles a regexp per pattern per matcher, and
// .dockerignore files that differ in one line (generated per service) share
// the others. Keyed by the pattern as readIgnoreFile returns it; nil for a
// pattern patternmatcher drops.
type patternCache map[string]*ignorePattern

// compile returns the patterns of one .dockerignore, with the error
// patternmatcher.New(pats) returns.
func (c patternCache) compile(pats []string) ([]*ignorePattern, error) {
	out := make([]*ignorePattern, 0, len(pats))
	for _, p := range pats {
		ip, ok := c[p]
		if !ok {
			pm, err := patternmatcher.New([]string{p})
			if err != nil {
				return nil, err
			}
			if pp := pm.Patterns(); len(pp) > 0 {
				ip = &ignorePattern{pm: pm, exclusion: pp[0].Exclusion()}
				if ip.exclusion {
					if ip.pm, err = patternmatcher.New([]string{"**", p}); err != nil {
						return nil, err
					}
				}
			}
			c[p] = ip
		}
		if ip != nil {
			out = append(out, ip)
		}
	}
	return out, nil
}

// matchesOrParentMatches is patternmatcher's PatternMatcher.MatchesOrParentMatches
// over patterns compiled one by one (its loop, by hand, so that compiled
// patterns can be shared between .dockerignore files; the matching itself is
// patternmatcher's): the last pattern matching file or one of its parent
// directories decides. TestIgnorePatterns and FuzzIgnorePatterns check it
// against a PatternMatcher of the whole list.
func matchesOrParentMatches(pats []*ignorePattern, file string) (bool, error) {
	matched := false
	for _, p := range pats {
		// As patternmatcher: an inclusion cannot change a match, nor an
		// exclusion a non-match.
		if p.exclusion != matched {
			continue
		}
		m, err := p.pm.MatchesOrParentMatches(file)
		if err != nil {
			return false, err
		}
		if p.exclusion {
			m = !m
		}
		if m {
			matched = !p.exclusion
		}
	}
	return matched, nil
}
