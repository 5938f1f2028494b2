package e2e_test

import (
	"context"
	"strings"
	"testing"
)

// TestWatchKeepsNewerDigestPin runs against the real registry: prod pins,
// by digest only, an image NEWER than the policy's candidate (2.0.0, outside
// the rule's range, hand-pinned). The watcher places the digest among the
// tags and promotes nothing; a second environment pinned by digest to an
// image no tag names is left alone too, with the reason in the cycle report;
// a third pinned by digest to an older tag is promoted.
func TestWatchKeepsNewerDigestPin(t *testing.T) {
	ww := newWatchWorld(t, "1h", rule("cart", "acme/cart", "^1.0.0", "prod", "qa", "dev"))
	image := ww.reg.Ref("acme/cart")
	old := ww.push(t, "acme/cart", "1.0.0")
	cand := ww.push(t, "acme/cart", "1.1.0")
	newer := ww.push(t, "acme/cart", "2.0.0")
	untagged := ww.push(t, "acme/cart") // pushed by digest only
	ww.man.pin("prod", image, "", newer)
	ww.man.pin("qa", image, "", untagged)
	ww.man.pin("dev", image, "", old)

	rep, err := ww.w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, d, _ := ww.man.Current(context.Background(), "prod", image); d != newer {
		t.Errorf("prod pins %s, want its newer hand-pinned digest %s kept", d, newer)
	}
	if _, d, _ := ww.man.Current(context.Background(), "qa", image); d != untagged {
		t.Errorf("qa pins %s, want the untagged digest %s kept", d, untagged)
	}
	if got := ww.man.landed(); len(got) != 1 || !strings.HasPrefix(got[0], "dev ") || !strings.Contains(got[0], "1.1.0@"+cand) {
		t.Errorf("landed %q, want only dev → 1.1.0@%s", got, cand)
	}
	if len(rep.Undecided) != 1 || !strings.Contains(rep.Undecided[0], "qa") || !strings.Contains(rep.Undecided[0], "matches no tag") {
		t.Errorf("report.Undecided = %q, want qa with its reason", rep.Undecided)
	}
	if n := ww.logs.FilterMessageSnippet("cannot tell").Len(); n != 1 {
		t.Errorf("%d 'cannot tell' log lines, want 1", n)
	}
}
