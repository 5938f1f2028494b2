package detect

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

var ignoreFileCases = []string{
	"",
	"*.md\n**/testdata\n!svc-0001.md\n",
	"# comment\n  # indented is a pattern\n\n   \t\n/abs/path\n/\n!/x\n! y \n!\n!  \n./a/../b//c/\n",
	"\xEF\xBB\xBFfirst\n\xEF\xBB\xBFsecond\n",
	"crlf\r\nlines\r\n\r\nlast\r",
	"no trailing newline",
	"a\r\r\nb\rc\n",
	"..\n../x\n!..\n.\n!.\n",
	"\x00\xff\xfe\n\u00a0space\u00a0\n",
	strings.Repeat("x", 70000) + "\ny\n",
}

// TestReadIgnoreFile: readIgnoreFile says what ignorefile.ReadAll says.
func TestReadIgnoreFile(t *testing.T) {
	for _, data := range ignoreFileCases {
		checkIgnoreFile(t, []byte(data))
	}
}

func FuzzReadIgnoreFile(f *testing.F) {
	for _, data := range ignoreFileCases {
		if len(data) < 1024 { // the long-line case only slows mutation down
			f.Add([]byte(data))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkIgnoreFile(t, data) })
}

func checkIgnoreFile(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := readIgnoreFile(data)
	want, wantErr := ignorefile.ReadAll(bytes.NewReader(data))
	if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("readIgnoreFile(%q) = %q, %v; ignorefile.ReadAll = %q, %v", data, got, gotErr, want, wantErr)
	}
}

// ignorePatternCases are .dockerignore files and paths matched against them.
var ignorePatternCases = []struct {
	file  string
	paths []string
}{
	{file: "*.md\n**/testdata\n!svc-0001.md\n", paths: []string{"a.md", "svc-0001.md", "x/testdata/y", "testdata", "pkg/a.go", "docs/b.md"}},
	{file: "docs/\n!docs/keep\ndocs/keep/drop\n", paths: []string{"docs", "docs/a", "docs/keep/b", "docs/keep/drop/c", "other"}},
	{file: "!a\n*\n!b\n!c*\nc2\n", paths: []string{"a", "b", "c1", "c2", "c2/x", "d/e"}},
	{file: "**\n!**/*.go\nvendor/**\n", paths: []string{"main.go", "x/y.go", "vendor/z.go", "README"}},
	{file: "a/[b-c]/?\n\\*literal\n!x/../y\n", paths: []string{"a/b/1", "a/d/1", "*literal", "y", "x"}},
	{file: "bad[\n", paths: []string{"a"}},
	{file: "ok\n!\n", paths: []string{"ok"}},
	{file: "   \n\n#c\n", paths: []string{"a"}},
}

// TestIgnorePatterns: patterns compiled one by one, through a cache shared
// by every file, match as a PatternMatcher of each whole file does.
func TestIgnorePatterns(t *testing.T) {
	cache := patternCache{}
	for _, tc := range ignorePatternCases {
		for _, p := range tc.paths {
			checkIgnorePatterns(t, cache, []byte(tc.file), p)
		}
	}
}

func FuzzIgnorePatterns(f *testing.F) {
	for _, tc := range ignorePatternCases {
		for _, p := range tc.paths {
			f.Add([]byte(tc.file), p)
		}
	}
	cache := patternCache{} // shared across inputs, as across a plan's files
	f.Fuzz(func(t *testing.T, file []byte, path string) {
		if path == "" || strings.Contains(path, "\x00") {
			return // Match never asks about the context itself
		}
		checkIgnorePatterns(t, cache, file, path)
	})
}

func checkIgnorePatterns(t *testing.T, cache patternCache, file []byte, path string) {
	t.Helper()
	pats, err := readIgnoreFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pm, wantErr := patternmatcher.New(pats)
	compiled, gotErr := cache.compile(pats)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: compile error %v, patternmatcher.New error %v", file, gotErr, wantErr)
	}
	if wantErr != nil {
		if gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q: compile error %v, patternmatcher.New error %v", file, gotErr, wantErr)
		}
		return
	}
	want, wantErr := pm.MatchesOrParentMatches(path)
	got, gotErr := matchesOrParentMatches(compiled, path)
	if got != want || (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q against %q = %v, %v; PatternMatcher = %v, %v", path, file, got, gotErr, want, wantErr)
	}
}
