package rewrite

import (
	"bytes"
	"fmt"
	"strings"
)

// UnifiedDiff returns a unified diff (3 lines of context, like diff -u) from
// a to b, labelled with the given names, or "" when they are equal. Lines are
// compared including their terminators, so a CRLF or final-newline change
// shows; a last line without a newline is marked "\ No newline at end of
// file". It uses Myers' O(ND) algorithm, which is fast for the small edits a
// rewrite makes.
func UnifiedDiff(aName, bName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := myers(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	const ctx = 3
	// Group ops into hunks.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-ctx, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		h := ops[start:end]
		aStart, bStart := h[0].ai, h[0].bi
		var aLen, bLen int
		for _, o := range h {
			if o.kind != '+' {
				aLen++
			}
			if o.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, o := range h {
			line := o.text
			out.WriteByte(o.kind)
			trimmed := strings.TrimRight(line, "\r\n")
			out.WriteString(trimmed)
			if strings.HasSuffix(line, "\r\n") {
				out.WriteString("\r")
			}
			out.WriteByte('\n')
			if !strings.HasSuffix(line, "\n") {
				out.WriteString("\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return out.String()
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits after each '\n', keeping terminators.
func splitLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, string(b))
			break
		}
		lines = append(lines, string(b[:i+1]))
		b = b[i+1:]
	}
	return lines
}

type diffOp struct {
	kind   byte // ' ', '-', '+'
	text   string
	ai, bi int // line index in a and b before this op
}

// myers computes a shortest edit script between x and y.
func myers(x, y []string) []diffOp {
	n, m := len(x), len(y)
	maxD := n + m
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	var d int
outer:
	for d = 0; d <= maxD; d++ {
		snap := make([]int, len(v))
		copy(snap, v)
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var i int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				i = v[off+k+1]
			} else {
				i = v[off+k-1] + 1
			}
			j := i - k
			for i < n && j < m && x[i] == y[j] {
				i++
				j++
			}
			v[off+k] = i
			if i >= n && j >= m {
				break outer
			}
		}
	}
	// Backtrack.
	var rev []diffOp
	i, j := n, m
	for dd := d; dd > 0; dd-- {
		vv := trace[dd]
		k := i - j
		var pk int
		if k == -dd || (k != dd && vv[off+k-1] < vv[off+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		pi := vv[off+pk]
		pj := pi - pk
		for i > pi && j > pj && i > 0 && j > 0 && x[i-1] == y[j-1] {
			i--
			j--
			rev = append(rev, diffOp{kind: ' ', text: x[i], ai: i, bi: j})
		}
		if i == pi {
			j--
			rev = append(rev, diffOp{kind: '+', text: y[j], ai: i, bi: j})
		} else {
			i--
			rev = append(rev, diffOp{kind: '-', text: x[i], ai: i, bi: j})
		}
	}
	for i > 0 && j > 0 {
		i--
		j--
		rev = append(rev, diffOp{kind: ' ', text: x[i], ai: i, bi: j})
	}
	ops := make([]diffOp, len(rev))
	for k := range rev {
		ops[k] = rev[len(rev)-1-k]
	}
	return ops
}
