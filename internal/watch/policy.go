package watch

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/deployment-automator/automator/internal/config"
)

// DefaultExclude are the tag patterns never considered when a rule sets no
// exclude list: cosign signatures, attestations and SBOMs are stored as tags
// (sha256-<hex>.sig, .att, .sbom) next to the images they describe.
var DefaultExclude = []string{`\.sig$`, `\.att$`, `\.sbom$`}

// ErrNoPolicy is returned for a tag policy that sets none of semver, regex and digest.
var ErrNoPolicy = errors.New("tag policy sets none of semver, regex, digest")

// Policy decides which tag of a repository is eligible and newest. A Policy
// is pure: it sees tag names only, so selecting a candidate costs no registry
// request beyond the tag list.
type Policy interface {
	// Select returns the newest eligible tag among tags, and false when none is eligible.
	Select(tags []string) (string, bool)
	// Newer reports whether candidate should replace current. It is false when
	// current is equal or newer under the policy, so an older version never
	// replaces a newer one; a current tag the policy cannot read (e.g. "latest")
	// is older than any eligible candidate.
	Newer(candidate, current string) bool
}

// MovingTag is implemented by policies that follow one tag by digest instead
// of choosing among tags; such rules skip the tag list and HEAD the tag instead.
type MovingTag interface {
	// Tag is the tag followed, e.g. "stable".
	Tag() string
}

// NewPolicy compiles a rule's tag policy and exclusions. exclude nil means
// DefaultExclude; an empty non-nil list excludes nothing.
func NewPolicy(p config.TagPolicy, exclude []string) (Policy, error) {
	set := 0
	for _, s := range []string{p.Semver, p.Regex, p.Digest} {
		if s != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return nil, ErrNoPolicy
	case set > 1:
		return nil, errors.New("tag policy sets more than one of semver, regex, digest")
	}
	if p.Digest != "" {
		return digestPolicy{tag: p.Digest}, nil
	}
	if exclude == nil {
		exclude = DefaultExclude
	}
	ex := make([]*regexp.Regexp, 0, len(exclude))
	for i, e := range exclude {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("exclude[%d] %q: %w", i, e, err)
		}
		ex = append(ex, re)
	}
	if p.Semver != "" {
		c, err := semver.NewConstraint(p.Semver)
		if err != nil {
			return nil, fmt.Errorf("semver range %q: %w", p.Semver, err)
		}
		c.IncludePrerelease = p.Prerelease
		return &semverPolicy{c: c, prerelease: p.Prerelease, exclude: ex}, nil
	}
	re, err := regexp.Compile(p.Regex)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", p.Regex, err)
	}
	switch p.Order {
	case "", "alphabetical", "numerical":
	default:
		return nil, fmt.Errorf("order %q: want numerical or alphabetical", p.Order)
	}
	return &regexPolicy{re: re, extract: p.Extract, numerical: p.Order == "numerical", exclude: ex}, nil
}

func excluded(ex []*regexp.Regexp, tag string) bool {
	for _, re := range ex {
		if re.MatchString(tag) {
			return true
		}
	}
	return false
}

type semverPolicy struct {
	c          *semver.Constraints
	prerelease bool
	exclude    []*regexp.Regexp
}

// parse reads X.Y.Z[-pre] with an optional leading v; partial versions such
// as "1" or "1.2" are moving tags, not releases, and are not eligible.
func (p *semverPolicy) parse(tag string) (*semver.Version, bool) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	if err != nil {
		return nil, false
	}
	if v.Prerelease() != "" && !p.prerelease {
		return nil, false
	}
	return v, true
}

func (p *semverPolicy) Select(tags []string) (string, bool) {
	var best *semver.Version
	bestTag := ""
	for _, t := range tags {
		if excluded(p.exclude, t) {
			continue
		}
		v, ok := p.parse(t)
		if !ok || !p.c.Check(v) {
			continue
		}
		// Ties (v1.2.3 and 1.2.3) go to the lexically smaller tag so the choice is stable.
		if best == nil || v.GreaterThan(best) || (v.Equal(best) && t < bestTag) {
			best, bestTag = v, t
		}
	}
	return bestTag, best != nil
}

func (p *semverPolicy) Newer(candidate, current string) bool {
	c, ok := p.parse(candidate)
	if !ok {
		return false
	}
	cur, err := semver.NewVersion(strings.TrimPrefix(current, "v"))
	if err != nil {
		return true
	}
	return c.GreaterThan(cur)
}

type regexPolicy struct {
	re        *regexp.Regexp
	extract   string // template of the ordering value; "" means the whole tag
	numerical bool
	exclude   []*regexp.Regexp
}

// key returns the ordering value of tag, and false when the tag is not eligible.
func (p *regexPolicy) key(tag string) (string, *big.Float, bool) {
	if excluded(p.exclude, tag) {
		return "", nil, false
	}
	m := p.re.FindStringSubmatchIndex(tag)
	if m == nil {
		return "", nil, false
	}
	v := tag
	if p.extract != "" {
		v = string(p.re.ExpandString(nil, p.extract, tag, m))
	}
	if !p.numerical {
		return v, nil, true
	}
	f, ok := new(big.Float).SetPrec(256).SetString(v)
	if !ok {
		return "", nil, false
	}
	return v, f, true
}

func (p *regexPolicy) less(as string, af *big.Float, bs string, bf *big.Float) bool {
	if p.numerical {
		return af.Cmp(bf) < 0
	}
	return as < bs
}

func (p *regexPolicy) Select(tags []string) (string, bool) {
	bestTag, bestS := "", ""
	var bestF *big.Float
	found := false
	for _, t := range tags {
		s, f, ok := p.key(t)
		if !ok {
			continue
		}
		if !found || p.less(bestS, bestF, s, f) || (!p.less(s, f, bestS, bestF) && t < bestTag) {
			bestTag, bestS, bestF, found = t, s, f, true
		}
	}
	return bestTag, found
}

func (p *regexPolicy) Newer(candidate, current string) bool {
	cs, cf, ok := p.key(candidate)
	if !ok {
		return false
	}
	us, uf, ok := p.key(current)
	if !ok {
		return true
	}
	return p.less(us, uf, cs, cf)
}

type digestPolicy struct{ tag string }

func (p digestPolicy) Tag() string { return p.tag }

func (p digestPolicy) Select(tags []string) (string, bool) {
	for _, t := range tags {
		if t == p.tag {
			return t, true
		}
	}
	return "", false
}

// Newer is false: a moving tag is compared by digest, never by name.
func (p digestPolicy) Newer(string, string) bool { return false }

var (
	_ Policy    = (*semverPolicy)(nil)
	_ Policy    = (*regexPolicy)(nil)
	_ Policy    = digestPolicy{}
	_ MovingTag = digestPolicy{}
)

// Ranker is implemented by policies that can order the tags they read,
// newest first, including tags the policy would not select (a version
// outside the range, a prerelease): a hand-pinned image may be any of them.
// The watcher uses the order to find which tag an environment pinned by
// digest only runs, checking the likeliest tags first.
type Ranker interface {
	// Rank returns the tags the policy can read, newest first; tags it
	// cannot read ("latest", excluded tags) are left out.
	Rank(tags []string) []string
}

// Rank implements Ranker: every tag that is a full semantic version
// (prereleases included, range ignored).
func (p *semverPolicy) Rank(tags []string) []string {
	type tv struct {
		tag string
		v   *semver.Version
	}
	var vs []tv
	for _, t := range tags {
		if excluded(p.exclude, t) {
			continue
		}
		if v, err := semver.StrictNewVersion(strings.TrimPrefix(t, "v")); err == nil {
			vs = append(vs, tv{t, v})
		}
	}
	slices.SortStableFunc(vs, func(a, b tv) int {
		if c := b.v.Compare(a.v); c != 0 {
			return c
		}
		return strings.Compare(a.tag, b.tag)
	})
	out := make([]string, len(vs))
	for i, x := range vs {
		out[i] = x.tag
	}
	return out
}

// Rank implements Ranker: every tag the pattern matches, by its ordering value.
func (p *regexPolicy) Rank(tags []string) []string {
	type tk struct {
		tag string
		s   string
		f   *big.Float
	}
	var ks []tk
	for _, t := range tags {
		if s, f, ok := p.key(t); ok {
			ks = append(ks, tk{t, s, f})
		}
	}
	slices.SortStableFunc(ks, func(a, b tk) int {
		switch {
		case p.less(b.s, b.f, a.s, a.f):
			return -1
		case p.less(a.s, a.f, b.s, b.f):
			return 1
		}
		return strings.Compare(a.tag, b.tag)
	})
	out := make([]string, len(ks))
	for i, x := range ks {
		out[i] = x.tag
	}
	return out
}

var (
	_ Ranker = (*semverPolicy)(nil)
	_ Ranker = (*regexPolicy)(nil)
)
