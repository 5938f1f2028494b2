package rewrite

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// UnifiedDiff returns a unified diff (3 lines of context, like diff -u) from
// a to b, labelled with the given names, or "" when they are equal. Lines are
// compared including their terminators, so a CRLF or final-newline change
// shows; a last line without a newline is marked "\ No newline at end of
// file". It anchors on lines unique to both sides and runs Myers' O(ND)
// algorithm between them (see myers), so a rewrite of every service of a
// large file stays near-linear.
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

// myers computes an edit script between x and y. Lines that occur exactly
// once in x and once in y, in the same order (the longest such run, as in
// patience diff), are kept as anchors, and Myers' O(ND) algorithm runs on
// each gap between them. A rewrite changes values spread over the whole
// file (one per service when a monorepo promotes everything at once), so
// one Myers pass over the file would cost O(N·D) time and, with its trace,
// O(N·D) memory: gigabytes at 2,000 services. Between anchors both N and D
// are small, so the whole diff is near-linear. It is hand-written because
// the Go distribution's anchored diff (internal/diff, golang.org/x/tools
// internal/diff) cannot be imported and go-diff's line mode is O(N·D) with
// a wall-clock timeout that makes its output depend on machine load.
func myers(x, y []string) []diffOp {
	var ops []diffOp
	i0, j0 := 0, 0
	for _, a := range anchors(x, y) {
		ops = append(ops, myersGap(x[i0:a[0]], y[j0:a[1]], i0, j0)...)
		ops = append(ops, diffOp{kind: ' ', text: x[a[0]], ai: a[0], bi: a[1]})
		i0, j0 = a[0]+1, a[1]+1
	}
	return append(ops, myersGap(x[i0:], y[j0:], i0, j0)...)
}

// anchors returns the pairs (i, j) with x[i] == y[j] unique in both x and y,
// forming the longest sequence increasing in both i and j (patience
// sorting, O(n log n)).
func anchors(x, y []string) [][2]int {
	type count struct{ nx, ny, j int }
	seen := make(map[string]*count, len(x))
	for _, l := range x {
		c := seen[l]
		if c == nil {
			c = &count{}
			seen[l] = c
		}
		c.nx++
	}
	for j, l := range y {
		if c := seen[l]; c != nil {
			c.ny++
			c.j = j
		}
	}
	var pairs [][2]int
	for i, l := range x {
		if c := seen[l]; c.nx == 1 && c.ny == 1 {
			pairs = append(pairs, [2]int{i, c.j})
		}
	}
	// Longest increasing subsequence of pairs by j: tops[k] is the index of
	// the pair ending the best run of length k+1; prev links runs.
	var tops []int
	prev := make([]int, len(pairs))
	for p := range pairs {
		k := sort.Search(len(tops), func(k int) bool { return pairs[tops[k]][1] > pairs[p][1] })
		prev[p] = -1
		if k > 0 {
			prev[p] = tops[k-1]
		}
		if k == len(tops) {
			tops = append(tops, p)
		} else {
			tops[k] = p
		}
	}
	if len(tops) == 0 {
		return nil
	}
	out := make([][2]int, len(tops))
	for k, p := len(tops)-1, tops[len(tops)-1]; k >= 0; k, p = k-1, prev[p] {
		out[k] = pairs[p]
	}
	return out
}

// myersGap computes a shortest edit script between x and y (lines ai0.. of
// a and bi0.. of b) with Myers' O(ND) algorithm. The trace keeps, per step
// d, only the 2d+3 diagonals that step can read.
func myersGap(x, y []string, ai0, bi0 int) []diffOp {
	// Common prefix and suffix cost no trace.
	var ops []diffOp
	for len(x) > 0 && len(y) > 0 && x[0] == y[0] {
		ops = append(ops, diffOp{kind: ' ', text: x[0], ai: ai0, bi: bi0})
		x, y, ai0, bi0 = x[1:], y[1:], ai0+1, bi0+1
	}
	var tail []diffOp
	for len(x) > 0 && len(y) > 0 && x[len(x)-1] == y[len(y)-1] {
		tail = append(tail, diffOp{kind: ' ', text: x[len(x)-1], ai: ai0 + len(x) - 1, bi: bi0 + len(y) - 1})
		x, y = x[:len(x)-1], y[:len(y)-1]
	}
	n, m := len(x), len(y)
	maxD := n + m
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int // trace[d] holds v[off-d-1 .. off+d+1] before step d
	var d int
outer:
	for d = 0; d <= maxD; d++ {
		trace = append(trace, slices.Clone(v[off-d-1:off+d+2]))
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
		at := func(k int) int { return vv[k+dd+1] }
		k := i - j
		var pk int
		if k == -dd || (k != dd && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		pi := at(pk)
		pj := pi - pk
		for i > pi && j > pj && i > 0 && j > 0 && x[i-1] == y[j-1] {
			i--
			j--
			rev = append(rev, diffOp{kind: ' ', text: x[i], ai: ai0 + i, bi: bi0 + j})
		}
		if i == pi {
			j--
			rev = append(rev, diffOp{kind: '+', text: y[j], ai: ai0 + i, bi: bi0 + j})
		} else {
			i--
			rev = append(rev, diffOp{kind: '-', text: x[i], ai: ai0 + i, bi: bi0 + j})
		}
	}
	for i > 0 && j > 0 {
		i--
		j--
		rev = append(rev, diffOp{kind: ' ', text: x[i], ai: ai0 + i, bi: bi0 + j})
	}
	for k := len(rev) - 1; k >= 0; k-- {
		ops = append(ops, rev[k])
	}
	for k := len(tail) - 1; k >= 0; k-- {
		ops = append(ops, tail[k])
	}
	return ops
}
