// Package holds keeps people in charge of automated promotion. A hold stops
// automation from promoting one service of an environment (or the whole
// environment) until it is released; it lives in the manifests repository
// (environments[].holdsFile, default .automator/holds.yaml), so git stays
// the only state and the watcher stays stateless. A revert is a hold too:
// when the value an environment pins was set by someone other than
// automator and is older than what automator last promoted there, the
// Checker reports it held until `automator release` accepts it.
//
// Load and File.For are the read API other commands (status, ChatOps) use;
// Checker is what promotion consults; AddEdit and ReleaseEdit are the
// write-back edits of `automator hold`, `automator release` and rollback.
package holds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// Hold stops automated promotion of Service in Environment (every service
// when Service is empty) until it is released.
type Hold struct {
	Environment string    `yaml:"environment"`
	Service     string    `yaml:"service,omitempty"`
	By          string    `yaml:"by,omitempty"`
	At          time.Time `yaml:"at,omitempty"`
	Reason      string    `yaml:"reason,omitempty"`
	// Reverted is set on a hold implied by a revert (never on one in the
	// file): the commit automator made whose value was reverted.
	Reverted string `yaml:"-"`
	// Pinned is the value the environment pins while a revert holds it.
	Pinned string `yaml:"-"`
}

// Release accepts a revert: automation may promote over the value that
// reverted automator's commit Reverted again.
type Release struct {
	Environment string    `yaml:"environment"`
	Service     string    `yaml:"service"`
	Reverted    string    `yaml:"reverted"`
	By          string    `yaml:"by,omitempty"`
	At          time.Time `yaml:"at,omitempty"`
}

// File is the holds file.
type File struct {
	Holds    []Hold    `yaml:"holds,omitempty"`
	Releases []Release `yaml:"releases,omitempty"`
}

// ErrNotHeld is returned by a release of something that is not held.
var ErrNotHeld = errors.New("not held")

// Parse reads a holds file strictly (unknown keys are errors, naming the
// line); empty content is an empty file.
func Parse(data []byte) (*File, error) {
	f := &File{}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("parsing holds: %w", err)
	}
	for i, h := range f.Holds {
		if h.Environment == "" {
			return nil, fmt.Errorf("parsing holds: holds[%d]: environment is required", i)
		}
	}
	return f, nil
}

// header opens every holds file automator writes.
const header = `# Holds stop automated promotion until released; written by automator
# (automator hold / release / rollback). Edit by hand if you like: the file is
# re-rendered on the next write, without comments.
`

// Render is the file's content. The file is automator's own record, so it is
// rendered whole (deterministically, entries in order) rather than spliced.
func (f *File) Render() []byte {
	if len(f.Holds) == 0 && len(f.Releases) == 0 {
		return []byte(header + "holds: []\n")
	}
	out, _ := yaml.Marshal(f) // plain structs: cannot fail
	return append([]byte(header), out...)
}

// For returns the hold that stops service in env: the service's own, else
// the whole environment's; nil when there is none.
func (f *File) For(env, service string) *Hold {
	var whole *Hold
	for i, h := range f.Holds {
		if h.Environment != env {
			continue
		}
		if h.Service == service && service != "" {
			return &f.Holds[i]
		}
		if h.Service == "" && whole == nil {
			whole = &f.Holds[i]
		}
	}
	return whole
}

// Of lists env's holds.
func (f *File) Of(env string) []Hold {
	var out []Hold
	for _, h := range f.Holds {
		if h.Environment == env {
			out = append(out, h)
		}
	}
	return out
}

// released reports whether the revert of automator's commit reverted of
// service in env was accepted.
func (f *File) released(env, service, reverted string) bool {
	for _, r := range f.Releases {
		if r.Environment == env && r.Service == service && r.Reverted == reverted {
			return true
		}
	}
	return false
}

// Load reads env's holds file at its branch head (absent = no holds).
func Load(ctx context.Context, r gitops.History, env config.Environment) (*File, error) {
	data, ok, err := r.ReadFile(ctx, env, "", env.HoldsPath())
	if err != nil {
		return nil, fmt.Errorf("environment %q: reading holds: %w", env.Name, err)
	}
	if !ok {
		return &File{}, nil
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("environment %q: %s: %w", env.Name, env.HoldsPath(), err)
	}
	return f, nil
}

// AddEdit is the write-back edit that records h in env's holds file,
// replacing a hold of the same environment and service.
func AddEdit(env config.Environment, h Hold) gitops.FileEdit {
	return gitops.FileEdit{Path: env.HoldsPath(), Edit: func(in gitops.EditInput) ([]byte, error) {
		f, err := Parse(in.Old)
		if err != nil {
			return nil, err
		}
		h := h
		// The same hold already written (on the base, or on the pending
		// pull request branch) keeps its time: a re-run writes the same
		// bytes.
		for _, text := range [][]byte{in.Old, in.Pending} {
			if prev, err := Parse(text); err == nil {
				if o := prev.For(h.Environment, h.Service); o != nil && o.Service == h.Service && o.By == h.By && o.Reason == h.Reason {
					h.At = o.At
				}
			}
		}
		f.Holds = slices.DeleteFunc(f.Holds, func(o Hold) bool { return o.Environment == h.Environment && o.Service == h.Service })
		f.Holds = append(f.Holds, h)
		return f.Render(), nil
	}}
}

// ReleaseEdit is the write-back edit that releases service (empty: the
// whole environment's hold) in env: it removes the hold and records the
// accepted revert of automator's commit reverted ("" when none is implied).
// Releasing what is not held is ErrNotHeld.
func ReleaseEdit(env config.Environment, service, reverted, by string, at time.Time) gitops.FileEdit {
	return gitops.FileEdit{Path: env.HoldsPath(), Edit: func(in gitops.EditInput) ([]byte, error) {
		f, err := Parse(in.Old)
		if err != nil {
			return nil, err
		}
		if prev, err := Parse(in.Pending); err == nil {
			// Keep the time the pending pull request recorded.
			for _, r := range prev.Releases {
				if r.Environment == env.Name && r.Service == service && r.Reverted == reverted && r.By == by {
					at = r.At
				}
			}
		}
		n := len(f.Holds)
		f.Holds = slices.DeleteFunc(f.Holds, func(o Hold) bool { return o.Environment == env.Name && o.Service == service })
		if reverted != "" {
			// One accepted revert per service is enough: older ones name
			// commits automator has promoted past.
			f.Releases = slices.DeleteFunc(f.Releases, func(r Release) bool { return r.Environment == env.Name && r.Service == service })
			f.Releases = append(f.Releases, Release{Environment: env.Name, Service: service, Reverted: reverted, By: by, At: at})
		} else if len(f.Holds) == n {
			what := "environment " + env.Name
			if service != "" {
				what = service + " in " + what
			}
			return nil, fmt.Errorf("%s: %w", what, ErrNotHeld)
		}
		return f.Render(), nil
	}}
}

// Describe is the hold as people read it: who, when and why.
func (h Hold) Describe() string {
	if h.Reverted != "" {
		return h.Reason
	}
	var b strings.Builder
	b.WriteString("held")
	if h.By != "" {
		b.WriteString(" by " + h.By)
	}
	if !h.At.IsZero() {
		b.WriteString(" on " + h.At.UTC().Format(time.RFC3339))
	}
	if h.Reason != "" {
		b.WriteString(": " + h.Reason)
	}
	return b.String()
}
