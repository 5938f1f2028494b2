package detect

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

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
