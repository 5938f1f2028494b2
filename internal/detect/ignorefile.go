package detect

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"

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
