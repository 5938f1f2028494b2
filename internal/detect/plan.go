// Package detect decides which services of the monorepo must be rebuilt.
//
// Plan takes the loaded config and either the GitHub event of the run or an
// explicit choice (--base/--head, --all, named services), works out the
// commit range the event stands for (see rangeFor for the rules per event),
// lists the changed files with git (deepening a shallow clone as needed, or
// asking the GitHub compare API when there is no history to fetch), and
// matches them against each service's triggers:
//
//   - files of its build context, minus what its .dockerignore excludes (when
//     the context holds other services' Dockerfiles, e.g. the repository root,
//     the Dockerfile's own folder stands in for it);
//   - the sources its Dockerfile reads: COPY/ADD sources and RUN bind mounts,
//     following COPY --from and FROM of local stages the target depends on;
//   - the Dockerfile itself and the .dockerignore;
//   - its paths globs (last match wins, "!" excludes) and dependsOn paths;
//   - its automator.yaml entry (compared between base and head);
//   - transitively, services it dependsOn by name.
//
// Renamed files count at both paths and deleted files count. Matching is
// indexed by literal path prefix, so its cost grows with the changed files and
// the rules along their paths, not with files × services.
package detect

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/git"
)

// Selected is one service to rebuild and why.
type Selected struct {
	Name       string   `json:"name"`
	Image      string   `json:"image"`
	Context    string   `json:"context"`
	Dockerfile string   `json:"dockerfile"`
	Reasons    []Reason `json:"reasons"`
}

// Result is the outcome of planning. An empty Services is a normal result.
type Result struct {
	// Base and Head are the full commit names diffed; Base is empty when the
	// selection did not come from a diff (tag, dispatch, --all).
	Base string `json:"base"`
	Head string `json:"head"`
	// Range says in words how the selection was made, for logs and summaries.
	Range string `json:"range"`
	// Services is sorted by name; never nil.
	Services []Selected `json:"services"`
}

// Names returns the selected service names in order.
func (r *Result) Names() []string {
	out := make([]string, len(r.Services))
	for i, s := range r.Services {
		out[i] = s.Name
	}
	return out
}

// UsageError is a bad request to Plan: conflicting options, an event without
// a commit range, an unknown service name. Commands exit with status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

type options struct {
	repo      *git.Repo
	event     *event.Event
	base      string
	head      string
	all       bool
	services  []string
	comparer  Comparer
	ownerRepo string
	remote    string
	log       *zap.Logger
}

// Option configures Plan.
type Option func(*options) error

// WithRepo sets the git work tree of the app monorepo (required).
func WithRepo(r *git.Repo) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("WithRepo: nil repository")
		}
		o.repo = r
		return nil
	}
}

// WithEvent plans for a GitHub Actions event. Explicit choices (WithRange,
// WithAll, WithServices) take precedence over it.
func WithEvent(ev *event.Event) Option {
	return func(o *options) error { o.event = ev; return nil }
}

// WithRange diffs base..head (two-dot: the trees of the two commits). head
// defaults to HEAD.
func WithRange(base, head string) Option {
	return func(o *options) error {
		if base == "" {
			return usagef("a commit range needs a base revision (--base)")
		}
		o.base, o.head = base, head
		return nil
	}
}

// WithAll selects every service.
func WithAll() Option { return func(o *options) error { o.all = true; return nil } }

// WithServices selects the named services ("all" selects every service).
func WithServices(names ...string) Option {
	return func(o *options) error { o.services = append(o.services, names...); return nil }
}

// WithComparer lets Plan ask GitHub's compare API for the changed files of
// ownerRepo ("owner/name") when the clone has no history to fetch.
func WithComparer(c Comparer, ownerRepo string) Option {
	return func(o *options) error {
		if c != nil && !strings.Contains(ownerRepo, "/") {
			return fmt.Errorf("WithComparer: repository %q is not owner/name", ownerRepo)
		}
		o.comparer, o.ownerRepo = c, ownerRepo
		return nil
	}
}

// WithRemote names the remote that missing history is fetched from
// (default origin).
func WithRemote(name string) Option { return func(o *options) error { o.remote = name; return nil } }

// WithLogger sets the logger (default: none).
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.log = l
		}
		return nil
	}
}

// selection is what the event or the flags ask for before matching.
type selection struct {
	base, head string // diff range (full names); base empty when not a diff
	changes    []git.Change
	baseLocal  bool     // the base commit is in the local clone
	all        bool     // every service
	names      []string // these services
	why        string
	allReason  string
}

// Plan decides which services of cfg to rebuild. See the package comment for
// the trigger rules and rangeFor for the commit range of each event. Bad
// input (unknown revision or service, config mistakes found in the tree)
// returns a *UsageError (or the config, event or git error at fault), which
// the CLI maps to exit code 2.
func Plan(ctx context.Context, cfg *config.Config, opts ...Option) (*Result, error) {
	o := options{remote: "origin", log: zap.NewNop()}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.repo == nil {
		return nil, errors.New("planning: no repository (WithRepo)")
	}
	explicit := 0
	for _, b := range []bool{o.base != "", o.all, len(o.services) > 0} {
		if b {
			explicit++
		}
	}
	if explicit > 1 {
		return nil, usagef("choose one of a commit range (--base/--head), --all or --services")
	}

	top, err := o.repo.TopLevel(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the repository root: %w", err)
	}
	prefix, cfgRel := configLocation(top, cfg.Source())

	h := &history{repo: o.repo, remote: o.remote, log: o.log, comparer: o.comparer}
	if owner, name, ok := strings.Cut(o.ownerRepo, "/"); ok {
		h.owner, h.name = owner, name
	}
	if err := h.init(ctx); err != nil {
		return nil, err
	}

	sel, err := rangeFor(ctx, &o, h)
	if err != nil {
		return nil, err
	}
	if sel.head == "" {
		return nil, errors.New("planning: no head commit")
	}

	tree, err := newGitTree(ctx, o.repo, sel.head, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing files at %s: %w", short(sel.head), err)
	}
	services, err := Services(cfg, tree)
	if err != nil {
		return nil, err
	}
	var want []string
	for _, s := range services {
		want = append(want, s.Dockerfile, s.Dockerfile+".dockerignore", path.Join(s.Context, ".dockerignore"))
	}
	if err := tree.preload(ctx, want); err != nil {
		return nil, fmt.Errorf("reading Dockerfiles at %s: %w", short(sel.head), err)
	}
	m, err := NewMatcher(cfg, services, tree)
	if err != nil {
		return nil, err
	}

	chosen := map[int][]Reason{}
	byName := map[string]int{}
	for i, s := range services {
		byName[s.Name] = i
	}
	switch {
	case sel.all:
		for i := range services {
			chosen[i] = []Reason{{Rule: sel.allReason}}
		}
	case sel.names != nil:
		for _, n := range sel.names {
			i, ok := byName[n]
			if !ok {
				return nil, usagef("unknown service %q (known: %s)", n, strings.Join(sortedNames(services), ", "))
			}
			chosen[i] = []Reason{{Rule: sel.allReason}}
		}
	default:
		changes := sel.changes
		if prefix != "" {
			changes = underPrefix(changes, prefix)
		}
		chosen = m.Match(changes)
		if slices.ContainsFunc(sel.changes, func(c git.Change) bool { return c.Path == cfgRel || c.OldPath == cfgRel }) && cfgRel != "" {
			if err := configEntryReasons(ctx, o.repo, cfg, cfgRel, sel, services, chosen); err != nil {
				return nil, err
			}
		}
		m.Propagate(chosen)
	}

	res := &Result{Base: sel.base, Head: sel.head, Range: sel.why, Services: []Selected{}}
	for i, reasons := range chosen {
		s := services[i]
		res.Services = append(res.Services, Selected{Name: s.Name, Image: s.Image, Context: s.Context, Dockerfile: s.Dockerfile, Reasons: reasons})
	}
	sort.Slice(res.Services, func(a, b int) bool { return res.Services[a].Name < res.Services[b].Name })
	o.log.Info("planned", zap.String("range", sel.why), zap.Int("changed_files", len(sel.changes)), zap.Int("services", len(res.Services)))
	return res, nil
}

func sortedNames(ss []Service) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	slices.Sort(out)
	return out
}

// configLocation returns the config root's path inside the git work tree
// ("" when it is the top level) and the config file's path from the top
// level ("" when the file is outside the work tree).
func configLocation(top, source string) (prefix, cfgRel string) {
	abs, err := filepath.Abs(source)
	if err != nil {
		return "", ""
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if real, err := filepath.EvalSymlinks(top); err == nil {
		top = real
	}
	root := filepath.Dir(abs)
	if filepath.Base(root) == ".github" {
		root = filepath.Dir(root)
	}
	if rel, err := filepath.Rel(top, root); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		prefix = filepath.ToSlash(rel)
	}
	if rel, err := filepath.Rel(top, abs); err == nil && !strings.HasPrefix(rel, "..") {
		cfgRel = filepath.ToSlash(rel)
	}
	return prefix, cfgRel
}

func underPrefix(cs []git.Change, prefix string) []git.Change {
	var out []git.Change
	strip := func(p string) (string, bool) { return strings.CutPrefix(p, prefix+"/") }
	for _, c := range cs {
		np, okNew := strip(c.Path)
		op, okOld := strip(c.OldPath)
		switch {
		case okNew && (c.OldPath == "" || okOld):
			out = append(out, git.Change{Status: c.Status, Path: np, OldPath: op})
		case okNew:
			out = append(out, git.Change{Status: git.Added, Path: np})
		case okOld:
			out = append(out, git.Change{Status: git.Deleted, Path: op})
		}
	}
	return out
}

// configEntryReasons selects services whose automator.yaml entry differs
// between base and head. Discovered services are compared through the
// discover block and the registry they template from.
func configEntryReasons(ctx context.Context, repo *git.Repo, cfg *config.Config, cfgRel string, sel selection, services []Service, chosen map[int][]Reason) error {
	headDoc, err := readConfigDoc(ctx, repo, sel.head, cfgRel)
	if err != nil || headDoc == nil {
		return err
	}
	var baseDoc map[string]any
	if sel.baseLocal {
		if baseDoc, err = readConfigDoc(ctx, repo, sel.base, cfgRel); err != nil {
			return err
		}
		if baseDoc == nil {
			baseDoc = map[string]any{} // the config is new: every entry is added
		}
	} else {
		for i := range services {
			chosen[i] = append(chosen[i], Reason{File: cfgRel, Rule: "automator.yaml changed and its base version is not in the clone"})
		}
		return nil
	}
	entries := func(doc map[string]any) map[string]any {
		out := map[string]any{}
		list, _ := doc["services"].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					out[n] = m
				}
			}
		}
		return out
	}
	before, after := entries(baseDoc), entries(headDoc)
	discoverChanged := !reflect.DeepEqual(baseDoc["discover"], headDoc["discover"]) || !reflect.DeepEqual(baseDoc["registry"], headDoc["registry"])
	for i, s := range services {
		switch {
		case s.Discovered && discoverChanged:
			chosen[i] = append(chosen[i], Reason{File: cfgRel, Rule: "automator.yaml discover settings changed"})
		case !s.Discovered:
			old, existed := before[s.Name]
			if !existed {
				chosen[i] = append(chosen[i], Reason{File: cfgRel, Rule: fmt.Sprintf("automator.yaml entry %s added", s.KeyPath)})
			} else if !reflect.DeepEqual(old, after[s.Name]) {
				chosen[i] = append(chosen[i], Reason{File: cfgRel, Rule: fmt.Sprintf("automator.yaml entry %s changed", s.KeyPath)})
			}
		}
	}
	return nil
}

func readConfigDoc(ctx context.Context, repo *git.Repo, rev, p string) (map[string]any, error) {
	data, err := repo.ReadFile(ctx, rev, p)
	if errors.Is(err, git.ErrPathNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// An unparsable old config compares unequal to everything.
		return map[string]any{"unparsable": string(data)}, nil
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return doc, nil
}

// Selection is what a command line asks Plan to select: a commit range
// (Base, Head), every service (All) or named Services; all empty leaves the
// choice to the event. Remote is where missing history is fetched from.
type Selection struct {
	Base, Head string
	All        bool
	Services   []string
	Remote     string
}

// WithSelection applies s: WithRange when Base is set, else WithAll when
// All is, then WithServices and WithRemote.
func WithSelection(s Selection) Option {
	return func(o *options) error {
		switch {
		case s.Base != "":
			if err := WithRange(s.Base, s.Head)(o); err != nil {
				return err
			}
		case s.All:
			o.all = true
		}
		o.services = append(o.services, s.Services...)
		o.remote = s.Remote
		return nil
	}
}
