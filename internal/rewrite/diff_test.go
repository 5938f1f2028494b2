package rewrite

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUnifiedDiffGolden(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\nl"
	want := `--- old
+++ new
@@ -1,7 +1,7 @@
 a
 b
 c
-d
+D
 e
 f
 g
@@ -9,3 +9,4 @@
 i
 j
 k
+l
\ No newline at end of file
`
	if got := UnifiedDiff("old", "new", []byte(a), []byte(b)); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := UnifiedDiff("a", "b", []byte(a), []byte(a)); got != "" {
		t.Errorf("equal inputs: %q", got)
	}
}

// TestUnifiedDiffApplies checks on random edits that applying the diff to a
// gives back b exactly, and that hunk headers count the lines they hold.
func TestUnifiedDiffApplies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		a := randLines(r)
		b := mutate(r, a)
		d := UnifiedDiff("a", "b", []byte(a), []byte(b))
		if got := applyUnified(t, a, d); got != b {
			t.Fatalf("case %d: patch(a) != b\na=%q\nb=%q\ndiff:\n%s", i, a, b, d)
		}
	}
}

func randLines(r *rand.Rand) string {
	var sb strings.Builder
	n := r.IntN(30)
	for i := 0; i < n; i++ {
		sb.WriteString(string(rune('a' + r.IntN(4))))
		if i < n-1 || r.IntN(3) > 0 {
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func mutate(r *rand.Rand, a string) string {
	lines := splitLines([]byte(a))
	for k := r.IntN(4); k >= 0; k-- {
		switch op := r.IntN(3); {
		case op == 0 && len(lines) > 0:
			i := r.IntN(len(lines))
			lines = append(lines[:i], lines[i+1:]...)
		case op == 1:
			i := r.IntN(len(lines) + 1)
			lines = append(lines[:i], append([]string{"x" + strconv.Itoa(r.IntN(9)) + "\n"}, lines[i:]...)...)
		case len(lines) > 0:
			lines[r.IntN(len(lines))] = "y\n"
		}
	}
	return strings.Join(lines, "")
}

// applyUnified is a minimal patch(1) for the diffs UnifiedDiff writes.
func applyUnified(t *testing.T, a, d string) string {
	t.Helper()
	if d == "" {
		return a
	}
	src := splitLines([]byte(a))
	var out []string
	pos := 0
	dl := strings.Split(strings.TrimSuffix(d, "\n"), "\n")[2:]
	for i := 0; i < len(dl); {
		h := dl[i]
		var as, al, bs, bl int
		parseRange := func(s string) (int, int) {
			st, n, ok := strings.Cut(s, ",")
			x, _ := strconv.Atoi(st)
			if !ok {
				return x, 1
			}
			y, _ := strconv.Atoi(n)
			return x, y
		}
		f := strings.Fields(h)
		as, al = parseRange(f[1][1:])
		bs, bl = parseRange(f[2][1:])
		_ = bs
		start := as - 1
		if al == 0 {
			start = as
		}
		out = append(out, src[pos:start]...)
		pos = start
		i++
		var gotA, gotB int
		for i < len(dl) && !strings.HasPrefix(dl[i], "@@") {
			l := dl[i]
			i++
			text := l[1:] + "\n"
			if i < len(dl) && dl[i] == `\ No newline at end of file` {
				text = l[1:]
				i++
			}
			switch l[0] {
			case ' ':
				if src[pos] != text {
					t.Fatalf("context mismatch at %d: %q vs %q", pos, src[pos], text)
				}
				out = append(out, text)
				pos++
				gotA++
				gotB++
			case '-':
				if src[pos] != text {
					t.Fatalf("removed line mismatch at %d: %q vs %q", pos, src[pos], text)
				}
				pos++
				gotA++
			case '+':
				out = append(out, text)
				gotB++
			}
		}
		if gotA != al || gotB != bl {
			t.Fatalf("hunk %q holds -%d +%d lines", h, gotA, gotB)
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, "")
}

// TestUnifiedDiffManyEdits: values changed all over a large file (one per
// service, as when a monorepo promotes every service) give a diff of
// exactly the changed lines, each in its own hunk, in near-linear work (the
// anchors on unique lines keep Myers' gaps small).
func TestUnifiedDiffManyEdits(t *testing.T) {
	var a, b strings.Builder
	const n = 3000
	for i := range n {
		fmt.Fprintf(&a, "svc%d:\n  image:\n    repository: ghcr.io/acme/svc%d\n    tag: \"1.0.0\"\n", i, i)
		fmt.Fprintf(&b, "svc%d:\n  image:\n    repository: ghcr.io/acme/svc%d\n    tag: \"1.1.0\"\n", i, i)
	}
	d := UnifiedDiff("a", "b", []byte(a.String()), []byte(b.String()))
	var minus, plus, hunks int
	for _, l := range strings.Split(d, "\n") {
		switch {
		case strings.HasPrefix(l, "@@"):
			hunks++
		case strings.HasPrefix(l, "---") || strings.HasPrefix(l, "+++"):
		case strings.HasPrefix(l, "-"):
			minus++
		case strings.HasPrefix(l, "+"):
			plus++
		}
	}
	// Changes 4 lines apart share a hunk (3 lines of context each side).
	if minus != n || plus != n || hunks != 1 {
		t.Errorf("%d removed, %d added lines in %d hunks; want %d, %d in 1", minus, plus, hunks, n, n)
	}
	if got := applyUnified(t, a.String(), d); got != b.String() {
		t.Error("patch(a) != b")
	}
}
