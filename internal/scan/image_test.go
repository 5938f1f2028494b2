package scan

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/scan/scantest"
)

func TestOpenLayoutSelectors(t *testing.T) {
	dir, digest := scantest.Layout(t, scantest.Fixed, "v1")
	for _, sel := range []string{dir, dir + ":v1", dir + "@" + digest.String()} {
		img, err := OpenLayout(sel)
		if err != nil {
			t.Fatalf("OpenLayout(%q): %v", sel, err)
		}
		if d, _ := img.Digest(); d != digest {
			t.Errorf("OpenLayout(%q) digest %s, want %s", sel, d, digest)
		}
	}
	if _, err := OpenLayout(dir + ":v2"); err == nil || !strings.Contains(err.Error(), `"v2"`) {
		t.Errorf("unknown tag error = %v", err)
	}
	if _, err := OpenLayout(filepath.Join(dir, "nope")); err == nil {
		t.Error("OpenLayout of a missing dir succeeded")
	}
}
