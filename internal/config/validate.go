package config

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/deployment-automator/automator/internal/freeze"
)

// Source is the file the config was read from.
func (c *Config) Source() string { return c.source }

// Repo is the repository tree the config's paths are relative to (may be nil).
func (c *Config) Repo() fs.FS { return c.repo }

// Pos returns where the key path (e.g. "services[1].context") was written, or
// the zero Position when it was not written (a default).
func (c *Config) Pos(keyPath string) Position { return c.pos[keyPath] }

// Problemf builds a Problem located at keyPath, for stages that find a config
// mistake late (a glob that does not compile, a Dockerfile that does not
// parse) and must still name file, line and key.
func (c *Config) Problemf(keyPath, format string, args ...any) Problem {
	p := c.pos[keyPath]
	return Problem{File: c.source, Line: p.Line, Column: p.Column, Path: keyPath, Message: fmt.Sprintf(format, args...)}
}

// Service returns the service named name.
func (c *Config) Service(name string) (*Service, bool) {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i], true
		}
	}
	return nil, false
}

// Environment returns the environment named name.
func (c *Config) Environment(name string) (*Environment, bool) {
	for i := range c.Environments {
		if c.Environments[i].Name == name {
			return &c.Environments[i], true
		}
	}
	return nil, false
}

// GatePolicy is the scan policy that applies to env: its own gate, or scan.policy.
func (c *Config) GatePolicy(env *Environment) Policy {
	if env != nil && env.Gate != nil {
		return *env.Gate
	}
	return c.Scan.Policy
}

// ScanEnabled reports whether images are scanned at all.
func (c *Config) ScanEnabled() bool { return c.Scan.Enabled == nil || *c.Scan.Enabled }

func (c *Config) validate() []Problem {
	var ps []Problem
	add := func(keyPath, format string, args ...any) { ps = append(ps, c.Problemf(keyPath, format, args...)) }

	if c.present["version"] && c.Version != CurrentVersion {
		add("version", "unsupported version %d: this build reads version %d", c.Version, CurrentVersion)
	}

	names, images := map[string]int{}, map[string]int{}
	for i, s := range c.Services {
		p := fmt.Sprintf("services[%d]", i)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			add(p+".name", "duplicate service name %q (also services[%d])", s.Name, j)
		} else {
			names[s.Name] = i
		}
		if j, dup := images[s.Image]; dup && s.Image != "" {
			add(p+".image", "image %q is already used by service %q", s.Image, c.Services[j].Name)
		} else {
			images[s.Image] = i
		}
		if s.Image != "" && strings.ContainsAny(s.Image, ":@") && !strings.Contains(s.Image[strings.LastIndex(s.Image, "/")+1:], "{{") {
			if last := s.Image[strings.LastIndex(s.Image, "/")+1:]; strings.ContainsAny(last, ":@") {
				add(p+".image", "image %q must be a repository without tag or digest", s.Image)
			}
		}
		if s.Context != "" {
			c.checkPath(&ps, p+".context", s.Context, true)
		}
		if s.Dockerfile != "" {
			c.checkPath(&ps, p+".dockerfile", s.Dockerfile, false)
		} else if s.Context != "" && c.repo != nil {
			if _, err := fs.Stat(c.repo, path.Join(cleanRel(s.Context), "Dockerfile")); err != nil {
				if st, ctxErr := fs.Stat(c.repo, cleanRel(s.Context)); ctxErr == nil && st.IsDir() {
					add(p+".context", "no Dockerfile in %q; set services[%d].dockerfile", s.Context, i)
				}
			}
		}
		for j, sec := range s.Secrets {
			if (sec.Env == "") == (sec.File == "") {
				add(fmt.Sprintf("%s.secrets[%d]", p, j), "set exactly one of env or file")
			}
		}
	}
	for i, s := range c.Services {
		for j, dep := range s.DependsOn {
			if _, ok := names[dep]; ok || strings.ContainsAny(dep, "/*") {
				continue
			}
			if c.repo != nil {
				if _, err := fs.Stat(c.repo, cleanRel(dep)); err == nil {
					continue
				}
			}
			add(fmt.Sprintf("services[%d].dependsOn[%d]", i, j), "%q is neither a service nor an existing path", dep)
		}
	}
	if c.Discover != nil && c.Discover.Root != "" {
		c.checkPath(&ps, "discover.root", c.Discover.Root, true)
	}

	if _, err := time.ParseDuration(c.Scan.MaxDBAge); c.Scan.MaxDBAge != "" && err != nil {
		add("scan.maxDBAge", "invalid duration %q (e.g. 24h)", c.Scan.MaxDBAge)
	}
	if c.GitHub.App != nil {
		a := c.GitHub.App
		if (a.PrivateKeyFile == "") == (a.PrivateKeyEnv == "") {
			add("github.app", "set exactly one of privateKeyFile or privateKeyEnv")
		}
	}

	envs := map[string]int{}
	for i, e := range c.Environments {
		p := fmt.Sprintf("environments[%d]", i)
		if j, dup := envs[e.Name]; dup && e.Name != "" {
			add(p+".name", "duplicate environment name %q (also environments[%d])", e.Name, j)
		} else {
			envs[e.Name] = i
		}
		for j, f := range e.Files {
			if _, err := path.Match(f, ""); err != nil {
				add(fmt.Sprintf("%s.files[%d]", p, j), "invalid glob %q: %v", f, err)
			}
		}
		if d, err := time.ParseDuration(e.RetryFor); e.RetryFor != "" && (err != nil || d <= 0) {
			add(p+".retryFor", "want a positive Go duration such as 5m, got %q", e.RetryFor)
		}
		c.validateFreeze(p, e, add)
		if d, err := time.ParseDuration(e.Soak); e.Soak != "" && (err != nil || d < 0) {
			add(p+".soak", "want a non-negative Go duration such as 24h, got %q", e.Soak)
		} else if e.Soak != "" && e.PromoteFrom == "" {
			add(p+".soak", "soak needs promoteFrom: it counts how long the upstream environment ran a digest")
		}
		for j, im := range e.Images {
			if im.Tag == "" && im.Digest == "" && im.Repository == "" {
				add(fmt.Sprintf("%s.images[%d]", p, j), "set at least one of repository, tag or digest")
			}
		}
		for j, t := range e.Triggers {
			for k, g := range append(append([]string{}, t.Branches...), t.Tags...) {
				if _, err := path.Match(g, ""); err != nil {
					add(fmt.Sprintf("%s.triggers[%d]", p, j), "invalid glob %q (item %d): %v", g, k, err)
				}
			}
		}
	}
	for i, e := range c.Environments {
		if e.PromoteFrom == "" {
			continue
		}
		p := fmt.Sprintf("environments[%d].promoteFrom", i)
		if _, ok := envs[e.PromoteFrom]; !ok {
			add(p, "unknown environment %q", e.PromoteFrom)
			continue
		}
		// Follow the chain to catch cycles.
		seen := map[string]bool{e.Name: true}
		for cur := e.PromoteFrom; cur != ""; {
			if seen[cur] {
				add(p, "promotion cycle through %q", cur)
				break
			}
			seen[cur] = true
			next, _ := c.Environment(cur)
			cur = next.PromoteFrom
		}
	}

	for key, v := range map[string]string{"network.connectTimeout": c.Network.ConnectTimeout,
		"network.responseHeaderTimeout": c.Network.ResponseHeaderTimeout, "network.requestTimeout": c.Network.RequestTimeout} {
		if d, err := time.ParseDuration(v); v != "" && (err != nil || d <= 0) {
			add(key, "invalid duration %q (e.g. 30s)", v)
		}
	}
	if c.Watch != nil {
		if _, err := time.ParseDuration(c.Watch.Interval); err != nil {
			add("watch.interval", "invalid duration %q (e.g. 5m)", c.Watch.Interval)
		}
		if d, err := time.ParseDuration(c.Watch.RepositoryTimeout); c.Watch.RepositoryTimeout != "" && (err != nil || d <= 0) {
			add("watch.repositoryTimeout", "invalid duration %q (e.g. 1m)", c.Watch.RepositoryTimeout)
		}
		for i, r := range c.Watch.Rules {
			p := fmt.Sprintf("watch.rules[%d]", i)
			set := 0
			for _, v := range []string{r.Policy.Semver, r.Policy.Regex, r.Policy.Digest} {
				if v != "" {
					set++
				}
			}
			if set != 1 {
				add(p+".policy", "set exactly one of semver, regex or digest")
			}
			if r.Policy.Semver != "" {
				if _, err := semver.NewConstraint(r.Policy.Semver); err != nil {
					add(p+".policy.semver", "invalid semver range %q: %v", r.Policy.Semver, err)
				}
			}
			if r.Policy.Regex != "" {
				re, err := regexp.Compile(r.Policy.Regex)
				if err != nil {
					add(p+".policy.regex", "invalid regex: %v", err)
				} else if r.Policy.Extract != "" {
					if ok := extractRefersToGroup(re, r.Policy.Extract); !ok {
						add(p+".policy.extract", "%q names no group of the regex", r.Policy.Extract)
					}
				}
			}
			for j, x := range r.Exclude {
				if _, err := regexp.Compile(x); err != nil {
					add(fmt.Sprintf("%s.exclude[%d]", p, j), "invalid regex: %v", err)
				}
			}
			if r.Interval != "" {
				if _, err := time.ParseDuration(r.Interval); err != nil {
					add(p+".interval", "invalid duration %q", r.Interval)
				}
			}
			if d, err := time.ParseDuration(r.MinAge); r.MinAge != "" && (err != nil || d < 0) {
				add(p+".minAge", "want a non-negative Go duration such as 2h, got %q", r.MinAge)
			}
			for j, env := range r.Environments {
				if _, ok := envs[env]; !ok {
					add(fmt.Sprintf("%s.environments[%d]", p, j), "unknown environment %q", env)
				}
			}
		}
	}
	c.validateEvidence(add)
	return ps
}

func extractRefersToGroup(re *regexp.Regexp, extract string) bool {
	for i, n := range re.SubexpNames() {
		if i == 0 {
			continue
		}
		if strings.Contains(extract, "$"+n) || strings.Contains(extract, "${"+n+"}") || strings.Contains(extract, fmt.Sprintf("$%d", i)) {
			return true
		}
	}
	return false
}

func cleanRel(p string) string {
	p = path.Clean(strings.TrimPrefix(p, "./"))
	if p == "" {
		return "."
	}
	return p
}

func (c *Config) checkPath(ps *[]Problem, keyPath, p string, wantDir bool) {
	if path.IsAbs(p) || strings.HasPrefix(path.Clean(p), "..") {
		*ps = append(*ps, c.Problemf(keyPath, "%q must be a path inside the repository", p))
		return
	}
	if c.repo == nil {
		return
	}
	st, err := fs.Stat(c.repo, cleanRel(p))
	switch {
	case err != nil:
		*ps = append(*ps, c.Problemf(keyPath, "path %q does not exist", p))
	case wantDir && !st.IsDir():
		*ps = append(*ps, c.Problemf(keyPath, "path %q is not a directory", p))
	case !wantDir && st.IsDir():
		*ps = append(*ps, c.Problemf(keyPath, "path %q is a directory, expected a file", p))
	}
}

// validateFreeze checks an environment's freeze windows: each parses (cron
// start, positive duration, known time zone), and no two periods overlap
// within a year from the first of January of the current year.
func (c *Config) validateFreeze(p string, e Environment, add func(keyPath, format string, args ...any)) {
	var ws freeze.Windows
	for j, f := range e.Freeze {
		w, err := freeze.Parse(f.Start, f.Duration, f.TimeZone, f.Reason)
		if err != nil {
			key := fmt.Sprintf("%s.freeze[%d]", p, j)
			switch {
			case strings.HasPrefix(err.Error(), "timeZone"):
				key += ".timeZone"
			case strings.HasPrefix(err.Error(), "duration"):
				key += ".duration"
			default:
				key += ".start"
			}
			add(key, "%v", err)
			continue
		}
		ws = append(ws, w)
	}
	if len(ws) != len(e.Freeze) {
		return
	}
	from := time.Date(time.Now().Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if err := ws.Check(from, 366*24*time.Hour); err != nil {
		add(p+".freeze", "%v", err)
	}
}
