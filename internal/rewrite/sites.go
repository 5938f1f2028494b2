package rewrite

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// mapFields are the fields of one Helm-style image map; nil nodes are absent.
// Nodes are resolved through aliases and merge keys.
type mapFields struct {
	repo, reg *yaml.Node
	tagK, tag *yaml.Node
	digK, dig *yaml.Node
	tagAlias  *yaml.Node
	digAlias  *yaml.Node
	cands     []string // the repositories the map may name
	rawRepo   string   // the repository value as written
	deps      []*yaml.Node
	own       []*yaml.Node // deps written in the map itself, not read through an alias or merge key
}

// imageFields matches one mapping against the Helm image-map layouts:
//
//	repository [+ registry] + tag|version [+ digest]  (+ global.imageRegistry or a parent map's registry)
//	name + registry + tag|version [+ digest]
//	name + tag|version [+ digest] under an image-like key (image.name + image.tag)
//	image + tag|version [+ digest]                     (api.image.image)
//
// key is the mapping's own key; inherited is the registry of the nearest
// parent map that has one.
func (ix *index) imageFields(m *yaml.Node, key string, globals []string, inherited string) (mapFields, bool) {
	var f mapFields
	repoE := ix.entry(m, "repository")
	regE := ix.entry(m, "registry")
	tagE := ix.entry(m, "tag")
	if tagE.val == nil {
		tagE = ix.entry(m, "version")
	}
	hasTag := tagE.val != nil && tagE.val.Kind == yaml.ScalarNode
	if repoE.val == nil || repoE.val.Kind != yaml.ScalarNode {
		img := ix.entry(m, "image")
		name := ix.entry(m, "name")
		isScalar := func(e entry) bool { return e.val != nil && e.val.Kind == yaml.ScalarNode }
		switch {
		case isScalar(img) && hasTag:
			repoE = img
		case isScalar(name) && img.val == nil && isScalar(regE):
			repoE = name
		case isScalar(name) && img.val == nil && hasTag && imageKey(key):
			repoE = name
		default:
			return f, false
		}
	}
	f.repo, f.reg, f.tagK, f.tag, f.tagAlias = repoE.val, regE.val, tagE.key, tagE.val, tagE.alias
	digE := ix.entry(m, "digest")
	f.digK, f.dig, f.digAlias = digE.key, digE.val, digE.alias
	f.rawRepo = scalarValue(f.repo)
	if f.rawRepo == "" {
		return f, false
	}
	for _, e := range []entry{repoE, regE, tagE, digE} {
		if e.val != nil && e.val.Kind == yaml.ScalarNode {
			f.deps = append(f.deps, e.val)
			if e.own {
				f.own = append(f.own, e.val)
			}
		}
	}
	if templated(f.rawRepo) {
		return f, true
	}
	if r := scalarValue(f.reg); r != "" && !templated(r) {
		f.cands = append(f.cands, strings.TrimSuffix(r, "/")+"/"+f.rawRepo)
	} else if r == "" {
		f.cands = append(f.cands, f.rawRepo)
		if inherited != "" {
			f.cands = append(f.cands, strings.TrimSuffix(inherited, "/")+"/"+f.rawRepo)
		}
	}
	for _, g := range globals {
		f.cands = append(f.cands, strings.TrimSuffix(g, "/")+"/"+f.rawRepo)
	}
	return f, true
}

// registryOf returns the registry a mapping passes down to its children.
func (ix *index) registryOf(m *yaml.Node, inherited string) string {
	if r := ix.value(m, "registry"); r != "" && !templated(r) {
		return r
	}
	return inherited
}

// site is one place in a file that names an image: an image map, an image
// string or a kustomize images entry, reached directly or through an alias.
type site struct {
	doc   int
	path  string
	line  int
	cands []string     // repositories the site names
	ref   string       // what the site resolves to, compared before and after an edit
	deps  []*yaml.Node // the scalars it reads, resolved through aliases and merge keys
	own   []*yaml.Node // the deps written at the site itself
}

// holds reports whether node n, found at doc/path, is the site's own field
// (e.g. image.tag of the map at image, written there, not an alias).
func (s *site) holds(doc int, path string, n *yaml.Node) bool {
	return s.doc == doc && slices.Contains(s.own, n) &&
		(path == s.path || strings.HasPrefix(path, s.path+".") || strings.HasPrefix(path, s.path+"["))
}

func (s *site) names(repo string) bool {
	for _, c := range s.cands {
		if sameRepository(c, repo) {
			return true
		}
	}
	return false
}

// meantFor reports whether an update may change what the site resolves to:
// it names the update's repository or a prefix of it (a shared tag).
func (s *site) meantFor(ups []Update, ux *updateIndex) bool {
	for _, i := range ux.candidates(s.cands) {
		u := ups[i]
		for _, c := range s.cands {
			if sameRepository(c, u.Repository) || underRepository(u.Repository, c) {
				return true
			}
		}
	}
	return false
}

// collectSites lists every image site of every document, aliases and merge
// keys included. It never walks into an aliased subtree more than one level,
// so the work is linear in the file whatever the aliases.
func collectSites(file string, docs []*yaml.Node, ix *index) []*site {
	var out []*site
	byName := isKustomizationFile(file)
	for i, d := range docs {
		root := docRoot(d)
		if root == nil {
			continue
		}
		if byName || ix.isKustomizationDoc(root) {
			_, images := ix.lookup(root, "images")
			if images == nil || images.Kind != yaml.SequenceNode {
				continue
			}
			for j, e := range images.Content {
				e = resolve(e)
				if e == nil || e.Kind != yaml.MappingNode {
					continue
				}
				s := &site{doc: i, path: fmt.Sprintf("images[%d]", j), line: e.Line}
				var vals []string
				for _, k := range []string{"name", "newName", "newTag", "digest"} {
					en := ix.entry(e, k)
					vals = append(vals, scalarValue(en.val))
					if en.val != nil && en.val.Kind == yaml.ScalarNode {
						s.deps = append(s.deps, en.val)
						if en.own && images.Content[j].Kind != yaml.AliasNode {
							s.own = append(s.own, en.val)
						}
					}
				}
				s.cands = []string{vals[0], vals[1]}
				s.ref = strings.Join(vals, "|")
				out = append(out, s)
			}
			continue
		}
		w := treeWalker{ix: ix,
			mapping: func(m *yaml.Node, path, key string, sc searchScope, aliased bool) (*yaml.Node, error) {
				f, ok := ix.imageFields(m, key, sc.globals, sc.inherited)
				if !ok {
					return nil, nil
				}
				s := &site{doc: sc.doc, path: path, line: m.Line, cands: f.cands,
					ref: strings.Join([]string{f.rawRepo, scalarValue(f.reg), scalarValue(f.tag), scalarValue(f.dig)}, "|"), deps: f.deps}
				if !aliased {
					s.own = f.own
				}
				out = append(out, s)
				return f.repo, nil
			},
			str: func(_, raw *yaml.Node, path string, sc searchScope) error {
				v := resolve(raw)
				if r, _, _ := splitImage(scalarValue(v)); r != "" && !templated(r) && !strings.ContainsAny(r, " \t\n") {
					s := &site{doc: sc.doc, path: path, line: v.Line, cands: []string{r}, ref: scalarValue(v), deps: []*yaml.Node{v}}
					if raw.Kind != yaml.AliasNode {
						s.own = s.deps
					}
					out = append(out, s)
				}
				return nil
			}}
		_ = w.walk(root, "", "", searchScope{doc: i, globals: globalRegistries(ix, root)})
	}
	return out
}

// treeWalker visits the places of a values tree where images live: every
// mapping (an image map candidate; one reached through an alias is visited
// without walking into it, so the work stays linear whatever the aliases)
// and every scalar under an image-like key. The planner and the site
// inventory share it, so they see the same sites.
type treeWalker struct {
	ix *index
	// mapping returns the scalar it used as a repository, which is then
	// not also treated as an image string.
	mapping func(m *yaml.Node, path, key string, sc searchScope, aliased bool) (*yaml.Node, error)
	str     func(k, raw *yaml.Node, path string, sc searchScope) error
}

func (w *treeWalker) walk(n *yaml.Node, path, key string, sc searchScope) error {
	switch n.Kind {
	case yaml.MappingNode:
		sc.flow = sc.flow || n.Style&yaml.FlowStyle != 0
		consumed, err := w.mapping(n, path, key, sc, false)
		if err != nil {
			return err
		}
		child := sc
		child.inherited = w.ix.registryOf(n, sc.inherited)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" || k.Kind != yaml.ScalarNode {
				continue
			}
			kp := joinPath(path, k.Value)
			rv := resolve(v)
			switch {
			case rv == nil:
			case rv.Kind == yaml.ScalarNode:
				if imageKey(k.Value) && rv != consumed {
					err = w.str(k, v, kp, sc)
				}
			case v.Kind == yaml.AliasNode:
				if rv.Kind == yaml.MappingNode {
					_, err = w.mapping(rv, kp, k.Value, child, true)
				}
			default:
				err = w.walk(v, kp, k.Value, child)
			}
			if err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		sc.flow = sc.flow || n.Style&yaml.FlowStyle != 0
		for i, c := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			var err error
			switch rc := resolve(c); {
			case c.Kind == yaml.AliasNode && rc != nil && rc.Kind == yaml.MappingNode:
				_, err = w.mapping(rc, ip, key, sc, true)
			case c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode:
				err = w.walk(c, ip, key, sc)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// verifySites compares the resolved image of every site before and after an
// edit. A site may change only when an update names its repository or when
// the edit touched one of its own values (not an alias or merge source it
// shares); anything else means an edit leaked into another image.
func verifySites(file string, before, after []*yaml.Node, ups []Update, ixA, ixB *index, edited ...editedValue) error {
	// Sites are keyed by document, path and occurrence: YAML parsers accept
	// a key written twice in one mapping, and both must be compared.
	keys := func(sites []*site) []string {
		seen := map[string]int{}
		out := make([]string, len(sites))
		for i, s := range sites {
			k := fmt.Sprintf("%d/%s", s.doc, s.path)
			out[i] = fmt.Sprintf("%s#%d", k, seen[k])
			seen[k]++
		}
		return out
	}
	now := map[string]*site{}
	sa := collectSites(file, after, ixB)
	for i, k := range keys(sa) {
		now[k] = sa[i]
	}
	ux := newUpdateIndex(ups)
	sb := collectSites(file, before, ixA)
	for i, k := range keys(sb) {
		s := sb[i]
		n, ok := now[k]
		if ok && n.ref == s.ref {
			continue
		}
		if s.meantFor(ups, ux) || touchedDirectly(s, edited) {
			continue
		}
		what := "disappears"
		if ok {
			what = fmt.Sprintf("would change from %s to %s", strings.Trim(s.ref, "|"), strings.Trim(n.ref, "|"))
		}
		return &SharedValueError{UnsupportedError{File: file, Line: s.line, Path: s.path,
			Reason: fmt.Sprintf("the image at %s (%s) %s although no update names it; file left untouched", s.path, strings.Join(s.cands, ", "), what)}}
	}
	return nil
}

// editedValue is a value the planner set: its node and where it was found.
type editedValue struct {
	doc  int
	path string
	node *yaml.Node
}

// touchedDirectly reports whether an edited value is the site's own field,
// e.g. a Flux :name marker on its repository.
func touchedDirectly(s *site, edited []editedValue) bool {
	for _, e := range edited {
		if s.holds(e.doc, e.path, e.node) {
			return true
		}
	}
	return false
}
