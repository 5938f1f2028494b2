package rewrite

import (
	"fmt"
	"strings"
)

// ParseError reports a file that is not valid YAML. The file is never
// rewritten when this is returned.
type ParseError struct {
	File string
	Line int // 1-based; 0 when the parser did not say
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: parsing YAML: %v", fileLine(e.File, e.Line), e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Match is one place in a file that claims an image repository.
type Match struct {
	Path   string // YAML path, e.g. image.repository
	Line   int
	Layout string // e.g. "helm image map", "image string"
}

// AmbiguousError reports that two different layouts in one file claim the
// same repository and nothing in the configuration says which one to change.
// Callers resolve it with WithImagePaths or markers.
type AmbiguousError struct {
	File       string
	Repository string
	Matches    []Match
}

func (e *AmbiguousError) Error() string {
	parts := make([]string, len(e.Matches))
	for i, m := range e.Matches {
		parts[i] = fmt.Sprintf("%s at line %d (%s)", m.Path, m.Line, m.Layout)
	}
	line := 0
	if len(e.Matches) > 0 {
		line = e.Matches[0].Line
	}
	return fmt.Sprintf("%s: ambiguous match for image %q: %s; configure explicit paths for it", fileLine(e.File, line), e.Repository, strings.Join(parts, ", "))
}

// PathError reports a YAML path (explicit or implied by a layout) that does
// not exist or does not hold what the update needs.
type PathError struct {
	File   string
	Path   string
	Line   int // line of the deepest node found on the way
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("%s: %s: %s", fileLine(e.File, e.Line), e.Path, e.Reason)
}

// ConflictError reports two updates that want different values in the same
// YAML node, e.g. two services sharing one tag field updated to different tags.
type ConflictError struct {
	File   string
	Path   string
	Line   int
	Values []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: %s: conflicting updates want %s", fileLine(e.File, e.Line), e.Path, strings.Join(e.Values, " and "))
}

// UnsupportedError reports a target node written in a form the byte-exact
// rewriter does not edit (block scalars, multi-line plain scalars, flow
// mappings that need a new key). Nothing is written when it is returned.
type UnsupportedError struct {
	File   string
	Path   string
	Line   int
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s: %s: %s", fileLine(e.File, e.Line), e.Path, e.Reason)
}

// SharedValueError reports an edit that would change the image of a site no
// update names, through a value it shares (an anchor, alias or merge key).
// It reads like an UnsupportedError (file:line, path, reason); the file is
// refused, never rewritten.
type SharedValueError struct{ UnsupportedError }

func fileLine(file string, line int) string {
	if file == "" {
		file = "<input>"
	}
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}
