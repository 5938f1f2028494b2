// Package status answers "what runs where": for every environment and
// service, the image the manifests pin, the commit that pinned it and how
// it got there (read from the trailers automator writes into commit
// messages), the scan verdict recorded then, the open promotion pull
// request, and drift from the environment's promoteFrom upstream.
//
// It only reads the manifests repository, through the narrow Reader
// (gitops.Router implements it over the GitHub API or a clone), and renders
// the Matrix as a terminal table, JSON, Markdown or a self-contained HTML
// page. State that other stages own is added by Annotators after the read:
// Holds fills the hold column from internal/holds (the same Checker
// promotion consults) and from the targets' freeze windows and soak times.
package status

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// Reader is what status reads of the manifests repository. gitops.Router
// (and each of its writers) implements it; it never writes.
type Reader interface {
	// Current reads the images the environment's files pin at its branch
	// head (at "") for the given service → repository map.
	Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]gitops.Image, error)
	gitops.Changes
}

// Annotator adds to a Matrix what another stage knows, after it is read:
// the extension point for holds, freezes and soak windows (Row.Hold). An
// error is recorded as a Problem, never fatal.
type Annotator interface {
	Annotate(ctx context.Context, m *Matrix) error
}

// How says how an image came to run in an environment.
type How string

// The ways an image gets into an environment, read from commit trailers.
const (
	// HowRun is a build and promotion by `automator run` (or watch) with no
	// upstream environment.
	HowRun How = "run"
	// HowPromotion is a promotion of what the upstream environment ran.
	HowPromotion How = "promotion"
	// HowRollback is `automator rollback` restoring an earlier commit.
	HowRollback How = "rollback"
	// HowHuman is a change no automator commit explains: a human edit.
	HowHuman How = "human edit"
)

// Pin is the commit that set an environment's value for a service.
type Pin struct {
	Commit string    `json:"commit"`
	URL    string    `json:"url,omitempty"`
	Author string    `json:"author,omitempty"`
	When   time.Time `json:"when"`
}

// PR is an open promotion (or rollback) pull request for an environment.
type PR struct {
	Number int       `json:"number,omitempty"`
	URL    string    `json:"url,omitempty"`
	Branch string    `json:"branch"`
	Opened time.Time `json:"opened"`
}

// Row is one service in one environment.
type Row struct {
	Env        string `json:"env"`
	Service    string `json:"service"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	// File and Line locate the pinned value.
	File string `json:"file"`
	Line int    `json:"line"`
	// Since is the commit that pinned the value (nil when history has none).
	Since *Pin `json:"since,omitempty"`
	How   How  `json:"how"`
	// From is the upstream environment of a promotion, or the commit a
	// rollback restored.
	From string `json:"from,omitempty"`
	// Scan is the gate's verdict recorded at promotion (pass, warn, fail,
	// skipped); empty when none was recorded.
	Scan string `json:"scan,omitempty"`
	// PR is the environment's open promotion pull request, if any.
	PR *PR `json:"pr,omitempty"`
	// Upstream is the promoteFrom environment; Drift is true when it runs
	// another digest; Behind counts the digests the upstream pinned since
	// the one this environment runs (BehindAtLeast: the history read did
	// not reach it, so Behind is a lower bound).
	Upstream      string `json:"upstream,omitempty"`
	Drift         bool   `json:"drift"`
	Behind        int    `json:"behind,omitempty"`
	BehindAtLeast bool   `json:"behindAtLeast,omitempty"`
	// Hold is filled by an Annotator (Holds: what stops automation from
	// promoting the row now — a hold or revert, a freeze window in force, a
	// digest still soaking); empty when nothing does.
	Hold string `json:"hold,omitempty"`
}

// Age is how long the row's value has been pinned at now (0 when unknown).
func (r Row) Age(now time.Time) time.Duration {
	if r.Since == nil || r.Since.When.IsZero() {
		return 0
	}
	return now.Sub(r.Since.When)
}

// Problem is an environment that could not be read; the other rows stand.
type Problem struct {
	Env   string `json:"env"`
	Error string `json:"error"`
}

// Matrix is what runs where, rows in config order of environments, then by
// service name.
type Matrix struct {
	Generated time.Time `json:"generated"`
	Envs      []string  `json:"envs"`
	Rows      []Row     `json:"rows"`
	Problems  []Problem `json:"problems,omitempty"`
}

// HasHolds reports whether any row carries hold state (renderers show the
// column only then).
func (m *Matrix) HasHolds() bool {
	for _, r := range m.Rows {
		if r.Hold != "" {
			return true
		}
	}
	return false
}

// Option configures Read.
type Option func(*options)

type options struct {
	now        func() time.Time
	limit      int
	annotators []Annotator
}

// WithClock sets the clock the matrix is stamped with (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithHistory sets how many commits of each environment's files are read
// (default 50): pins older than that show no Since and How "human edit".
func WithHistory(n int) Option { return func(o *options) { o.limit = n } }

// WithAnnotators adds Annotators run after the matrix is read.
func WithAnnotators(a ...Annotator) Option {
	return func(o *options) { o.annotators = append(o.annotators, a...) }
}

// DefaultHistory is how many commits per environment Read reads by default.
const DefaultHistory = 50

// envState is what Read learns of one environment.
type envState struct {
	images []gitops.Image
	log    []gitops.Commit
	pins   []pinned // newest first
	prs    []gitops.Proposal
	err    error
}

// Read builds the matrix for targets (in their order), reading each
// environment's images, history and open pull requests from r. images maps
// services to their repository as the upstream-most manifests name them
// (promote.ImagesFromConfig); each target retargets it to its registry.
// An environment that cannot be read becomes a Problem; Read fails only
// when none could be read.
func Read(ctx context.Context, r Reader, targets []*promote.Target, images map[string]string, opts ...Option) (*Matrix, error) {
	o := options{now: time.Now, limit: DefaultHistory}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Matrix{Generated: o.now().UTC()}
	states := map[string]*envState{}
	for _, t := range targets {
		m.Envs = append(m.Envs, t.Name())
		states[t.Name()] = readEnv(ctx, r, t, images, o.limit)
	}
	for _, t := range targets {
		st := states[t.Name()]
		if st.err != nil {
			m.Problems = append(m.Problems, Problem{Env: t.Name(), Error: st.err.Error()})
			continue
		}
		var up *envState
		if t.From != nil {
			up = states[t.From.Name()]
			if up == nil {
				// The upstream is not among the targets asked for: read it too.
				up = readEnv(ctx, r, t.From, images, o.limit)
				states[t.From.Name()] = up
			}
		}
		for _, im := range sorted(st.images) {
			m.Rows = append(m.Rows, row(t, im, st, up))
		}
	}
	if len(m.Problems) == len(targets) && len(targets) > 0 {
		return m, fmt.Errorf("reading the status of every environment failed; first: %s: %s", m.Problems[0].Env, m.Problems[0].Error)
	}
	for _, a := range o.annotators {
		if err := a.Annotate(ctx, m); err != nil {
			m.Problems = append(m.Problems, Problem{Error: err.Error()})
		}
	}
	return m, nil
}

func readEnv(ctx context.Context, r Reader, t *promote.Target, images map[string]string, limit int) *envState {
	st := &envState{}
	own := map[string]string{}
	for s, repo := range images {
		own[s] = t.ImageRepo(repo)
	}
	if st.images, st.err = r.Current(ctx, t.Env, "", own); st.err != nil {
		return st
	}
	if st.log, st.err = r.Changes(ctx, t.Env, limit); st.err != nil {
		return st
	}
	for _, c := range st.log {
		st.pins = append(st.pins, parseTrailers(c)...)
	}
	st.prs, st.err = r.Proposals(ctx, t.Env)
	return st
}

func sorted(ims []gitops.Image) []gitops.Image {
	out := append([]gitops.Image(nil), ims...)
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// row explains one image of t: the newest automator commit that pinned
// exactly this value is its origin; without one it is a human edit, dated
// by the newest commit automator did not make.
func row(t *promote.Target, im gitops.Image, st, up *envState) Row {
	r := Row{Env: t.Name(), Service: im.Service, Repository: im.Repository, Tag: im.Tag, Digest: im.Digest, File: im.File, Line: im.Line, How: HowHuman}
	if p, ok := findPin(st.pins, im.Service, im.Tag, im.Digest); ok {
		r.Since = &Pin{Commit: p.commit.SHA, URL: p.commit.URL, Author: p.commit.Author, When: p.commit.When}
		r.Scan = p.scan
		switch {
		case p.rollbackTo != "":
			r.How, r.From = HowRollback, p.rollbackTo
		case p.promotedFrom != "":
			r.How, r.From = HowPromotion, p.promotedFrom
		default:
			r.How = HowRun
		}
	} else {
		for _, c := range st.log {
			if !isAutomator(c) {
				r.Since = &Pin{Commit: c.SHA, URL: c.URL, Author: c.Author, When: c.When}
				break
			}
		}
	}
	if len(st.prs) > 0 {
		p := st.prs[0]
		r.PR = &PR{Number: p.Number, URL: p.URL, Branch: p.Branch, Opened: p.Opened}
	}
	if t.From == nil || up == nil || up.err != nil {
		return r
	}
	r.Upstream = t.From.Name()
	var upDigest string
	for _, u := range up.images {
		if u.Service == im.Service {
			upDigest = u.Digest
		}
	}
	if upDigest == "" || upDigest == im.Digest {
		return r
	}
	r.Drift = true
	r.Behind, r.BehindAtLeast = behind(up.pins, im.Service, im.Digest)
	return r
}

// behind counts the distinct digests upstream pinned for service since
// digest, newest first; found is false when history ran out first.
func behind(pins []pinned, service, digest string) (n int, atLeast bool) {
	seen := map[string]bool{}
	for _, p := range pins {
		if p.service != service || p.digest == "" {
			continue
		}
		if p.digest == digest {
			return max(n, 1), false
		}
		if !seen[p.digest] {
			seen[p.digest] = true
			n++
		}
	}
	return max(n, 1), true
}

// Err is nil when every environment was read, else an error naming the
// ones that were not (the matrix still shows the others).
func (m *Matrix) Err() error {
	if len(m.Problems) == 0 {
		return nil
	}
	p := m.Problems[0]
	return fmt.Errorf("status: %d problem(s); first: %s: %s", len(m.Problems), p.Env, p.Error)
}
