package rewrite

import (
	"slices"
	"sort"
	"strings"
)

// updateIndex finds the updates that an image site can concern without
// comparing the site with every update: a file that pins every service of a
// monorepo, rewritten with an update per service, would otherwise cost
// sites × updates comparisons (quadratic in the services). Its answer is a
// superset: callers still apply sameRepository, underRepository and
// nearMiss to each candidate, in the updates' order, so what matches is
// exactly what comparing with every update matches.
type updateIndex struct {
	exact  map[string][]int // normalized repository → updates
	norms  []normalized     // sorted, for the repositories under a prefix
	paths  map[string][]int // image path (no registry) → updates
	suffix map[string][]int // every "/"-suffix of an image path, the path itself included → updates
}

type normalized struct {
	repo string
	i    int
}

func newUpdateIndex(ups []Update) *updateIndex {
	x := &updateIndex{exact: map[string][]int{}, paths: map[string][]int{}, suffix: map[string][]int{}}
	for i, u := range ups {
		n := normalizeRepository(u.Repository)
		x.exact[n] = append(x.exact[n], i)
		x.norms = append(x.norms, normalized{n, i})
		p := imagePath(n)
		x.paths[p] = append(x.paths[p], i)
		x.suffix[p] = append(x.suffix[p], i)
		for j := range len(p) {
			if p[j] == '/' {
				x.suffix[p[j+1:]] = append(x.suffix[p[j+1:]], i)
			}
		}
	}
	sort.Slice(x.norms, func(a, b int) bool { return x.norms[a].repo < x.norms[b].repo })
	return x
}

// candidates returns, ascending, the updates u for which
// sameRepository(w, u.Repository) or underRepository(u.Repository, w) may
// hold for some w in written, or nearMiss(n, u.Repository) for some n in
// near.
func (x *updateIndex) candidates(written []string, near ...string) []int {
	var out []int
	for _, w := range written {
		if w == "" {
			continue
		}
		out = append(out, x.exact[normalizeRepository(w)]...)
		if np, ok := sharedPrefix(w); ok {
			np += "/"
			k := sort.Search(len(x.norms), func(k int) bool { return x.norms[k].repo >= np })
			for ; k < len(x.norms) && strings.HasPrefix(x.norms[k].repo, np); k++ {
				out = append(out, x.norms[k].i)
			}
		}
	}
	for _, n := range near {
		_, a, ok := nearPath(n)
		if !ok {
			continue
		}
		out = append(out, x.suffix[a]...) // b == a or b ends with "/"+a
		for j := range len(a) {
			if a[j] == '/' {
				out = append(out, x.paths[a[j+1:]]...) // a ends with "/"+b
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
