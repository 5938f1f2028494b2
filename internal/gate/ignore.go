package gate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/package-url/packageurl-go"
	"gopkg.in/yaml.v3"
)

// IgnoreRule is one accepted risk from an ignore file: a vulnerability ID,
// optionally narrowed to paths (doublestar globs, matched against the finding's
// target and file path) and package URLs, with a reason and an expiry date.
// The semantics follow Trivy's .trivyignore / .trivyignore.yaml.
type IgnoreRule struct {
	ID        string    `json:"id"`
	Paths     []string  `json:"paths,omitempty"`
	PURLs     []string  `json:"purls,omitempty"`
	Statement string    `json:"statement,omitempty"`
	ExpiredAt time.Time `json:"expiredAt,omitzero"`
	// Source is file:line of the entry, for reports and error messages.
	Source string `json:"source"`

	purls []packageurl.PackageURL
}

// Expired reports whether the rule no longer applies at now. A rule without
// expired_at never expires.
func (r IgnoreRule) Expired(now time.Time) bool {
	return !r.ExpiredAt.IsZero() && r.ExpiredAt.Before(now)
}

// Matches reports whether the rule covers f (ignoring expiry): same ID, a
// path pattern matching f.Target or f.Path (any path when none is given) and a
// PURL matching f's (any package when none is given, or when f has none).
func (r IgnoreRule) Matches(f Finding) bool {
	if r.ID != f.ID {
		return false
	}
	return r.matchPath(f) && r.matchPURL(f)
}

func (r IgnoreRule) matchPath(f Finding) bool {
	if len(r.Paths) == 0 {
		return true
	}
	for _, p := range r.Paths {
		for _, candidate := range []string{f.Target, f.Path} {
			if ok, _ := doublestar.Match(p, candidate); ok && candidate != "" {
				return true
			}
		}
	}
	return false
}

func (r IgnoreRule) matchPURL(f Finding) bool {
	if len(r.purls) == 0 || f.PURL == "" {
		return true
	}
	target, err := packageurl.FromString(f.PURL)
	if err != nil {
		return false
	}
	for _, p := range r.purls {
		if purlMatch(p, target) {
			return true
		}
	}
	return false
}

// purlMatch is Trivy's rule: type, namespace and name equal; version and
// subpath equal when the pattern sets them; every qualifier of the pattern
// present in the target with the same value.
func purlMatch(p, t packageurl.PackageURL) bool {
	switch {
	case p.Type != t.Type, p.Namespace != t.Namespace, p.Name != t.Name:
		return false
	case p.Version != "" && p.Version != t.Version:
		return false
	case p.Subpath != "" && p.Subpath != t.Subpath:
		return false
	}
	tq := t.Qualifiers.Map()
	for k, v := range p.Qualifiers.Map() {
		if tv, ok := tq[k]; !ok || tv != v {
			return false
		}
	}
	return true
}

// IgnoreList is the parsed ignore file. The zero value ignores nothing.
type IgnoreList struct {
	// File is the path the rules came from.
	File  string
	Rules []IgnoreRule
}

// LoadIgnoreFile reads a .trivyignore (text) or .trivyignore.yaml / .yml (YAML)
// file. A missing file is an error: a configured ignore file that silently
// vanished would turn accepted risks into surprise failures, or the reverse.
func LoadIgnoreFile(path string) (*IgnoreList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ignore file %q: %w", path, err)
	}
	return ParseIgnore(path, data)
}

// ParseIgnore parses ignore rules; name decides the format (.yaml/.yml is
// the YAML form, anything else the line form "ID [exp:YYYY-MM-DD]" with #
// comments). Unknown YAML keys, bad dates, bad globs and bad PURLs are errors
// naming file:line.
func ParseIgnore(name string, data []byte) (*IgnoreList, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		return parseIgnoreYAML(name, data)
	default:
		return parseIgnoreText(name, data)
	}
}

func parseIgnoreText(name string, data []byte) (*IgnoreList, error) {
	list := &IgnoreList{File: name}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		rule := IgnoreRule{ID: fields[0], Source: fmt.Sprintf("%s:%d", name, line)}
		for _, f := range fields[1:] {
			if strings.HasPrefix(f, "#") {
				break
			}
			v, ok := strings.CutPrefix(f, "exp:")
			if !ok {
				continue
			}
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: invalid expiry %q (want exp:YYYY-MM-DD): %w", name, line, f, err)
			}
			rule.ExpiredAt = t
		}
		list.Rules = append(list.Rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ignore file %q: %w", name, err)
	}
	return list, nil
}

// yamlRule mirrors one entry of .trivyignore.yaml.
type yamlRule struct {
	ID        string   `yaml:"id"`
	Paths     []string `yaml:"paths"`
	PURLs     []string `yaml:"purls"`
	Statement string   `yaml:"statement"`
	ExpiredAt string   `yaml:"expired_at"`
}

// yamlIgnore is the document shape; only vulnerabilities matter to the gate,
// the other sections are accepted so one file can serve Trivy as well.
type yamlIgnore struct {
	Vulnerabilities   []yaml.Node `yaml:"vulnerabilities"`
	Misconfigurations []yaml.Node `yaml:"misconfigurations"`
	Secrets           []yaml.Node `yaml:"secrets"`
	Licenses          []yaml.Node `yaml:"licenses"`
}

func parseIgnoreYAML(name string, data []byte) (*IgnoreList, error) {
	list := &IgnoreList{File: name}
	var doc yamlIgnore
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing ignore file %q: %w", name, err)
	}
	for i := range doc.Vulnerabilities {
		n := &doc.Vulnerabilities[i]
		at := fmt.Sprintf("%s:%d", name, n.Line)
		var yr yamlRule
		if err := decodeStrict(n, &yr); err != nil {
			return nil, fmt.Errorf("%s: vulnerabilities[%d]: %w", at, i, err)
		}
		if yr.ID == "" {
			return nil, fmt.Errorf("%s: vulnerabilities[%d].id: required", at, i)
		}
		rule := IgnoreRule{ID: yr.ID, Paths: yr.Paths, PURLs: yr.PURLs, Statement: yr.Statement, Source: at}
		if yr.ExpiredAt != "" {
			t, err := parseExpiry(yr.ExpiredAt)
			if err != nil {
				return nil, fmt.Errorf("%s: vulnerabilities[%d].expired_at: %w", at, i, err)
			}
			rule.ExpiredAt = t
		}
		for j, p := range yr.Paths {
			if !doublestar.ValidatePattern(p) {
				return nil, fmt.Errorf("%s: vulnerabilities[%d].paths[%d]: invalid glob %q", at, i, j, p)
			}
		}
		for j, s := range yr.PURLs {
			p, err := packageurl.FromString(s)
			if err != nil {
				return nil, fmt.Errorf("%s: vulnerabilities[%d].purls[%d]: invalid package URL %q: %w", at, i, j, s, err)
			}
			rule.purls = append(rule.purls, p)
		}
		list.Rules = append(list.Rules, rule)
	}
	return list, nil
}

// decodeStrict decodes n into v rejecting unknown keys (yaml.Node.Decode has
// no KnownFields switch, so re-encode and decode strictly).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

// parseExpiry accepts a date (2025-06-30, meaning its start in UTC, as Trivy
// does) or an RFC 3339 timestamp.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid date %q (want YYYY-MM-DD or RFC 3339)", s)
	}
	return t, nil
}

// match returns the first rule covering f that is not expired at now, and the
// expired rules that would have covered it.
func (l *IgnoreList) match(f Finding, now time.Time) (active *IgnoreRule, expired []IgnoreRule) {
	if l == nil {
		return nil, nil
	}
	for i := range l.Rules {
		r := &l.Rules[i]
		if !r.Matches(f) {
			continue
		}
		if r.Expired(now) {
			expired = append(expired, *r)
			continue
		}
		if active == nil {
			active = r
		}
	}
	return active, expired
}
