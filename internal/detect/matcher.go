package detect

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/git"
)

// Reason says why a service was selected: the first changed file (in path
// order) that matched one of its rules, and the rule.
type Reason struct {
	// File is the changed path, with "(renamed to …)"/"(deleted)" notes; empty
	// for reasons that are not about one file (a dependency, a tag, --all).
	File string `json:"file,omitempty"`
	// Rule names the trigger, e.g. "build context src/cart" or
	// "COPY libs/common (src/api/Dockerfile:7)".
	Rule string `json:"rule"`
}

type ruleKind uint8

const (
	kindContext ruleKind = iota // files the build context sends (minus .dockerignore)
	kindCopy                    // a Dockerfile COPY/ADD/bind-mount source
	kindAlways                  // the Dockerfile or .dockerignore itself
	kindPaths                   // services[].paths
	kindDepPath                 // services[].dependsOn path
)

type rule struct {
	svc    int
	kind   ruleKind
	label  string
	glob   *Glob        // nil: everything under the node matches
	ignore *ignoreSet   // the service's .dockerignore, nil when none
	ctx    string       // context the ignore patterns are relative to
	list   *PatternList // kindPaths: the service's whole ordered list
	fired  bool
}

type node struct {
	children map[string]*node
	rules    []*rule
}

func (n *node) child(seg string) *node {
	if n.children == nil {
		n.children = map[string]*node{}
	}
	c := n.children[seg]
	if c == nil {
		c = &node{}
		n.children[seg] = c
	}
	return c
}

// Matcher decides which services a set of changed paths triggers. Build it
// once per plan with NewMatcher: every glob, .dockerignore and Dockerfile is
// compiled up front and the rules are indexed in a trie of literal path
// prefixes, so matching a file costs the rules along its own path, not one
// test per service. A Matcher is single use and not safe for concurrent use.
type Matcher struct {
	services []Service
	root     node
	deps     [][]int // deps[i]: services that service i depends on by name
}

// NewMatcher compiles the trigger rules of services against tree (the
// repository at the head commit). Bad globs and Dockerfiles that do not parse
// are returned as a *config.Error naming the key.
func NewMatcher(cfg *config.Config, services []Service, tree fs.FS) (*Matcher, error) {
	m := &Matcher{services: services, deps: make([][]int, len(services))}
	index := make(map[string]int, len(services))
	for i, s := range services {
		index[s.Name] = i
	}
	dockerfileDirs := make([]string, len(services))
	for i, s := range services {
		dockerfileDirs[i] = path.Dir(s.Dockerfile)
	}
	slices.Sort(dockerfileDirs)

	ignores := map[string]*ignoreSet{} // by .dockerignore content
	patterns := patternCache{}
	sources := dockerfileMemo{}
	var ps []config.Problem
	for i, s := range services {
		// The .dockerignore Docker uses: <Dockerfile>.dockerignore, else <context>/.dockerignore.
		var ign *ignoreSet
		for _, cand := range []string{s.Dockerfile + ".dockerignore", path.Join(s.Context, ".dockerignore")} {
			data, err := fs.ReadFile(tree, cand)
			if err != nil {
				continue
			}
			m.add(&rule{svc: i, kind: kindAlways, label: ".dockerignore " + cand}, mustLiteral(cand))
			// Keyed by content: its patterns are relative to the context,
			// so services whose .dockerignore files say the same (a
			// monorepo's generated ones) share one compiled set and memo.
			if ign = ignores[string(data)]; ign == nil {
				pats, err := readIgnoreFile(data)
				if err == nil {
					var compiled []*ignorePattern
					if compiled, err = patterns.compile(pats); err == nil {
						ign = &ignoreSet{pats: compiled, memo: map[string]bool{}}
						ignores[string(data)] = ign
					}
				}
				if err != nil {
					ps = append(ps, cfg.Problemf(s.KeyPath+".context", "service %q: %s: %v", s.Name, cand, err))
				}
			}
			break
		}

		m.add(&rule{svc: i, kind: kindAlways, label: "Dockerfile " + s.Dockerfile}, mustLiteral(s.Dockerfile))

		df, err := fs.ReadFile(tree, s.Dockerfile)
		if err != nil {
			ps = append(ps, cfg.Problemf(dfKey(cfg, s), "service %q: reading %s: %v", s.Name, s.Dockerfile, err))
			continue
		}
		srcs, err := sources.get(df, s.Target, s.Args)
		if errors.Is(err, ErrUnknownTarget) {
			ps = append(ps, cfg.Problemf(s.KeyPath+".target", "service %q: %s: %v", s.Name, s.Dockerfile, err))
			continue
		}
		if err != nil {
			ps = append(ps, cfg.Problemf(dfKey(cfg, s), "service %q: %s: %v", s.Name, s.Dockerfile, err))
			continue
		}

		// A context holding other services' Dockerfiles (typically the repository
		// root) is shared: "every file of the context" would select every service
		// on every change, so the Dockerfile's folder stands in for it, and the
		// COPY sources say what else the image reads.
		if sharedContext(s.Context, dockerfileDirs) {
			dir := path.Dir(s.Dockerfile)
			m.add(&rule{svc: i, kind: kindContext, label: fmt.Sprintf("Dockerfile folder %s (shared build context %s)", dir, s.Context), ignore: ign, ctx: s.Context}, mustLiteral(dir))
		} else {
			m.add(&rule{svc: i, kind: kindContext, label: "build context " + s.Context, ignore: ign, ctx: s.Context}, mustLiteral(s.Context))
		}
		seenSrc := map[string]bool{}
		if !sharedContext(s.Context, dockerfileDirs) {
			seenSrc[s.Context] = true // COPY . adds nothing to the context rule
		}
		for _, src := range srcs {
			full := path.Join(s.Context, src.Pattern)
			if seenSrc[full] {
				continue
			}
			seenSrc[full] = true
			g, err := CompileGlob(full)
			if err != nil {
				ps = append(ps, cfg.Problemf(dfKey(cfg, s), "service %q: %s:%d: %s source %q: %v", s.Name, s.Dockerfile, src.Line, src.Instruction, src.Pattern, err))
				continue
			}
			label := fmt.Sprintf("%s %s (%s:%d)", src.Instruction, src.Pattern, s.Dockerfile, src.Line)
			m.add(&rule{svc: i, kind: kindCopy, label: label, glob: nonLiteral(g), ignore: ign, ctx: s.Context}, g)
		}

		if len(s.Paths) > 0 {
			pl, j, err := CompilePatternList(s.Paths)
			if err != nil {
				ps = append(ps, cfg.Problemf(fmt.Sprintf("%s.paths[%d]", s.KeyPath, j), "service %q: %v", s.Name, err))
			} else {
				// One rule reached from each positive pattern's prefix: the
				// whole list decides, and it gives one reason at most.
				r := &rule{svc: i, kind: kindPaths, list: pl}
				for _, it := range pl.items {
					if !it.negate {
						m.add(r, it.glob)
					}
				}
			}
		}
		for j, dep := range s.DependsOn {
			if k, ok := index[dep]; ok {
				m.deps[i] = append(m.deps[i], k)
				continue
			}
			g, err := CompileGlob(dep)
			if err != nil {
				ps = append(ps, cfg.Problemf(fmt.Sprintf("%s.dependsOn[%d]", s.KeyPath, j), "service %q: %v", s.Name, err))
				continue
			}
			m.add(&rule{svc: i, kind: kindDepPath, label: fmt.Sprintf("dependsOn %q", dep), glob: nonLiteral(g)}, g)
		}
	}
	if len(ps) > 0 {
		return nil, &config.Error{Problems: ps}
	}
	return m, nil
}

// dfKey is the key a Dockerfile problem is reported at: the dockerfile key
// when it was written, else the context it was derived from.
func dfKey(cfg *config.Config, s Service) string {
	if s.Discovered {
		return "discover.root"
	}
	if k := s.KeyPath + ".dockerfile"; cfg.Pos(k).Line > 0 {
		return k
	}
	return s.KeyPath + ".context"
}

func mustLiteral(p string) *Glob {
	p = cleanPath(p)
	if p == "." {
		return &Glob{pattern: p, literal: true}
	}
	segs := strings.Split(p, "/")
	return &Glob{pattern: p, segs: segs, prefix: len(segs), literal: true}
}

// nonLiteral returns g when matching needs more than reaching its trie node.
func nonLiteral(g *Glob) *Glob {
	if g.literal {
		return nil
	}
	return g
}

// sharedContext reports whether dir holds the Dockerfile folder of more than
// one service (dirs is sorted).
func sharedContext(dir string, dirs []string) bool {
	if dir == "." {
		return len(dirs) > 1
	}
	i, _ := slices.BinarySearch(dirs, dir)
	n := 0
	for ; i < len(dirs); i++ {
		d := dirs[i]
		if d != dir && !strings.HasPrefix(d, dir+"/") {
			if d > dir+"/" {
				break
			}
			continue
		}
		if n++; n > 1 {
			return true
		}
	}
	return false
}

func (m *Matcher) add(r *rule, g *Glob) {
	n := &m.root
	for _, seg := range g.Prefix() {
		n = n.child(seg)
	}
	n.rules = append(n.rules, r)
}

// changedPath is one path to match, with how it changed for reasons.
type changedPath struct {
	path string
	note string
}

// Match returns, per selected service index, the reasons it was selected:
// at most one per rule, for the first changed path in path order that the
// rule matched. Both paths of a rename count, and deleted paths count. Then
// services depending by name on selected ones are selected, transitively.
func (m *Matcher) Match(changes []git.Change) map[int][]Reason {
	paths := make([]changedPath, 0, len(changes)+len(changes)/8)
	for _, c := range changes {
		switch {
		case c.Status == git.Deleted:
			paths = append(paths, changedPath{c.Path, " (deleted)"})
		case c.OldPath != "" && c.Status == git.Renamed:
			paths = append(paths, changedPath{c.Path, " (renamed from " + c.OldPath + ")"}, changedPath{c.OldPath, " (renamed to " + c.Path + ")"})
		default:
			paths = append(paths, changedPath{c.Path, ""})
		}
	}
	sort.Slice(paths, func(i, j int) bool { return paths[i].path < paths[j].path })

	selected := map[int][]Reason{}
	segs := make([]string, 0, 16)
	for _, cp := range paths {
		segs = splitInto(segs[:0], cp.path)
		n := &m.root
		m.visit(n, cp, segs, selected)
		for _, seg := range segs {
			if n = n.children[seg]; n == nil {
				break
			}
			m.visit(n, cp, segs, selected)
		}
	}
	return selected
}

// Propagate adds services that depend by name (dependsOn) on selected ones,
// transitively, each with the dependency as its reason.
func (m *Matcher) Propagate(selected map[int][]Reason) {
	dependents := make([][]int, len(m.services))
	for i, ds := range m.deps {
		for _, d := range ds {
			dependents[d] = append(dependents[d], i)
		}
	}
	queue := make([]int, 0, len(selected))
	for i := range m.services {
		if _, ok := selected[i]; ok {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, i := range dependents[d] {
			r := Reason{Rule: fmt.Sprintf("dependsOn service %q", m.services[d].Name)}
			if _, ok := selected[i]; !ok {
				queue = append(queue, i)
			} else if slices.Contains(selected[i], r) {
				continue
			}
			selected[i] = append(selected[i], r)
		}
	}
}

func splitInto(dst []string, p string) []string {
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return append(dst, p)
		}
		dst = append(dst, p[:i])
		p = p[i+1:]
	}
}

func (m *Matcher) visit(n *node, cp changedPath, segs []string, selected map[int][]Reason) {
	for _, r := range n.rules {
		if r.fired {
			continue
		}
		label := r.label
		switch r.kind {
		case kindPaths:
			it, ok := r.list.decide(segs)
			if !ok {
				continue
			}
			label = fmt.Sprintf("paths %q", it.glob.pattern)
		default:
			if r.glob != nil && !r.glob.matchSegs(segs) {
				continue
			}
		}
		if r.ignore != nil {
			rel := cp.path
			if r.ctx != "." {
				rel = strings.TrimPrefix(cp.path, r.ctx+"/")
				if rel == cp.path {
					rel = "" // outside the context: .dockerignore does not apply
				}
			}
			if rel != "" && r.ignore.excludes(rel) {
				continue
			}
		}
		r.fired = true
		selected[r.svc] = append(selected[r.svc], Reason{File: cp.path + cp.note, Rule: label})
	}
}

// dockerfileMemo parses each distinct Dockerfile (content, target and build
// args) once per plan: monorepos generate most of their Dockerfiles from a
// few templates, and BuildKit's parser, which reads every Dockerfile outside
// the plain subset, allocates ~18 KB even for a six-line file (it compiles
// its directive regexps per parse), which made parsing half of a plan's
// allocations. The Sources are context-relative, so they
// hold for every service whose Dockerfile says the same.
type dockerfileMemo map[string]dockerfileResult

type dockerfileResult struct {
	srcs []Source
	err  error
}

func (d dockerfileMemo) get(data []byte, target string, args map[string]string) ([]Source, error) {
	var key strings.Builder
	key.Grow(len(data) + len(target) + 2)
	key.WriteString(target)
	key.WriteByte(0)
	for _, k := range slices.Sorted(maps.Keys(args)) {
		key.WriteString(k)
		key.WriteByte('=')
		key.WriteString(args[k])
		key.WriteByte(0)
	}
	key.WriteByte(0)
	key.Write(data)
	if r, ok := d[key.String()]; ok {
		return r.srcs, r.err
	}
	srcs, err := DockerfileSources(data, target, args)
	d[key.String()] = dockerfileResult{srcs: srcs, err: err}
	return srcs, err
}
