// Package watch is the registry watcher behind `automator watch`: it polls
// image repositories politely (one tag list per repository per cycle, one
// manifest request only for the single candidate a policy selects, per-host
// token buckets, back-off honouring Retry-After), reacts to webhooks, and
// promotes new tags through the same gate and write-back as `automator run`.
//
// The watcher keeps no durable state: what each environment runs is read
// from the manifests repository (CurrentReader) on every decision, and the
// only memory kept between cycles is a fingerprint of each repository's tag
// list, used to skip repositories where nothing changed. A restart re-derives
// everything; two replicas at once do no harm because the write-back is
// idempotent.
package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/transport"
	"github.com/deployment-automator/automator/internal/webhook"
)

// ErrNotDeployed is returned by a CurrentReader when an environment's files
// do not reference the image at all.
var ErrNotDeployed = errors.New("image not referenced by environment")

// CurrentReader reads what an environment of the manifests repository runs
// now; it is the watcher's only source of truth (the write-back layer).
type CurrentReader interface {
	// Current returns the tag and digest env pins for image (the repository
	// as written in the watch rule, e.g. ghcr.io/acme/cart); either may be
	// empty. It returns ErrNotDeployed (wrapped) when env does not use image.
	Current(ctx context.Context, env, image string) (tag, digest string, err error)
}

// Update is one image to pin in one environment.
type Update struct {
	// Service is the watch rule name, also the service name in manifests.
	Service string
	// Image is the repository as written in the rule.
	Image string
	// Tag and Digest are the new reference; Digest is always set.
	Tag, Digest string
	// PreviousTag and PreviousDigest are what the environment ran before.
	PreviousTag, PreviousDigest string
	// PushedAt is when the image was pushed, when known (zero otherwise).
	PushedAt time.Time
	// SeenAt is when this watcher first saw the tag in a tag list or was
	// told of it by a webhook: the start of time to promotion.
	SeenAt time.Time
}

// Ref returns "image:tag@digest".
func (u Update) Ref() string { return u.Image + ":" + u.Tag + "@" + u.Digest }

// Result is what a promotion did.
type Result string

// Promotion results.
const (
	// Promoted means a commit or pull request now carries the update.
	Promoted Result = "promoted"
	// Unchanged means the environment already ran it (nothing written).
	Unchanged Result = "unchanged"
	// Blocked means the environment's vulnerability gate refused the image.
	Blocked Result = "blocked"
	// Held means a hold (or a revert automation does not promote over)
	// keeps the service where it is; the promoter said why once.
	Held Result = "held"
	// Frozen means the environment is in a freeze window and commits
	// nothing; the promotion lands on the first cycle after it.
	Frozen Result = "frozen"
)

// Outcome is the result of one promotion.
type Outcome struct {
	Result Result
	// URL of the pull request or commit, when one was written.
	URL string
	// Reason is a one-line summary for the log (e.g. the gate verdict).
	Reason string
}

// Lander lands one image in one environment through the same gate and
// write-back as `automator run` (WriteBack adapts promote.Promoter to it).
// It must be idempotent (a second call with the same update writes nothing)
// and must not leave a moved ref behind when its context is cancelled
// midway. A failure that retrying cannot mend is a *promote.TerminalError.
type Lander interface {
	Promote(ctx context.Context, env string, u Update) (Outcome, error)
}

// rule is a compiled watch rule.
type rule struct {
	name     string
	image    string
	policy   Policy
	envs     []string
	interval time.Duration
	minAge   time.Duration // watch.rules[].minAge
}

// target is one watched repository with the rules that watch it and the
// in-memory memory of its last check.
type target struct {
	repo     name.Repository
	key      string // canonical repository name, e.g. index.docker.io/library/nginx
	rules    []*rule
	interval time.Duration
	listTags bool // some rule chooses among tags (not only moving tags)

	mu          sync.Mutex
	running     bool
	again       bool
	nextDue     time.Time
	fingerprint string
	settled     bool // last check decided everything (no error) for fingerprint
	warnedTrunc bool
	hints       map[string]time.Time // tag → push time from webhooks
	// seen is when each candidate tag (moving tags: tag@digest) was first
	// seen by a poll or announced by a webhook, for time to promotion.
	seen map[string]time.Time
	// undecidedLogged remembers digest-only pins already reported as
	// undecidable, so each is warned about once.
	undecidedLogged map[string]bool
}

// Watcher polls and promotes. Create it with New; run it with Run or RunOnce.
type Watcher struct {
	targets     []*target
	reg         Registry
	cur         CurrentReader
	prom        Lander
	m           *Metrics
	log         *zap.Logger
	concurrency int
	maxTags     int
	budget      time.Duration // watch.repositoryTimeout
	grace       time.Duration
	jitter      float64
	now         func() time.Time // dates first sightings and tag ages (minAge)
	sem         chan struct{}
	cycles      atomic.Uint64 // the last cycle identity handed out (CycleOf)

	ready    atomic.Bool
	runMu    sync.Mutex
	runCtx   context.Context
	inflight sync.WaitGroup
}

type options struct {
	log     *zap.Logger
	metrics *Metrics
	shard   Shard
	grace   time.Duration
	jitter  float64
	now     func() time.Time
}

// Option configures New.
type Option func(*options) error

// WithLogger sets the logger; each unit of work adds its repository, rule,
// environment, tag and digest.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithMetrics sets where the watcher's series go (default: a private registry).
func WithMetrics(m *Metrics) Option {
	return func(o *options) error {
		if m == nil {
			return errors.New("nil metrics")
		}
		o.metrics = m
		return nil
	}
}

// WithShard makes this watcher own only the repositories of shard s.
func WithShard(s Shard) Option {
	return func(o *options) error {
		if s.Count > 0 && (s.Index < 0 || s.Index >= s.Count) {
			return fmt.Errorf("shard %d/%d: want 0 <= I < N", s.Index, s.Count)
		}
		o.shard = s
		return nil
	}
}

// WithGrace bounds how long in-flight promotions may continue after the
// context is cancelled (default 30s); after that their context is cancelled
// too and the write-back abandons them before moving any ref.
func WithGrace(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("grace %s: must not be negative", d)
		}
		o.grace = d
		return nil
	}
}

// WithClock sets the clock that dates when a tag was first seen and decides
// whether it is old enough for its rule's minAge (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("nil clock")
		}
		o.now = now
		return nil
	}
}

// WithJitter spreads each repository's next poll by up to ±f of its
// interval (default 0.1), so replicas and repositories do not poll in step.
func WithJitter(f float64) Option {
	return func(o *options) error {
		if f < 0 || f >= 1 {
			return fmt.Errorf("jitter %v: want 0 <= f < 1", f)
		}
		o.jitter = f
		return nil
	}
}

// New compiles cfg's rules (keeping those of this shard) into a Watcher.
func New(cfg *config.Watch, reg Registry, cur CurrentReader, prom Lander, opts ...Option) (*Watcher, error) {
	if cfg == nil {
		return nil, errors.New("no watch section in the config")
	}
	if reg == nil || cur == nil || prom == nil {
		return nil, errors.New("watch: registry, current reader and promoter are required")
	}
	o := options{log: zap.NewNop(), grace: 30 * time.Second, jitter: 0.1, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.metrics == nil {
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			return nil, err
		}
		o.metrics = m
	}
	def, err := parseInterval(cfg.Interval, 5*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("watch.interval: %w", err)
	}
	conc := cfg.Concurrency
	if conc < 1 {
		conc = 4
	}
	budget, err := parseInterval(cfg.RepositoryTimeout, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("watch.repositoryTimeout: %w", err)
	}
	w := &Watcher{reg: budgeted{reg}, budget: budget, cur: cur, prom: prom, m: o.metrics, log: o.log, concurrency: conc,
		maxTags: cfg.MaxTags, grace: o.grace, jitter: o.jitter, now: o.now, sem: make(chan struct{}, conc)}
	byKey := map[string]*target{}
	for i, rc := range cfg.Rules {
		path := fmt.Sprintf("watch.rules[%d]", i)
		repo, err := reg.ParseRepository(rc.Image)
		if err != nil {
			return nil, fmt.Errorf("%s.image %q: %w", path, rc.Image, err)
		}
		pol, err := NewPolicy(rc.Policy, rc.Exclude)
		if err != nil {
			return nil, fmt.Errorf("%s.policy: %w", path, err)
		}
		iv, err := parseInterval(rc.Interval, def)
		if err != nil {
			return nil, fmt.Errorf("%s.interval: %w", path, err)
		}
		if len(rc.Environments) == 0 {
			return nil, fmt.Errorf("%s.environments: at least one environment is required", path)
		}
		key := repo.Name()
		if !o.shard.Owns(key) {
			continue
		}
		t := byKey[key]
		if t == nil {
			t = &target{repo: repo, key: key, interval: iv, hints: map[string]time.Time{}}
			byKey[key] = t
			w.targets = append(w.targets, t)
		}
		t.interval = min(t.interval, iv)
		if _, moving := pol.(MovingTag); !moving {
			t.listTags = true
		}
		var minAge time.Duration
		if rc.MinAge != "" {
			if minAge, err = time.ParseDuration(rc.MinAge); err != nil || minAge < 0 {
				return nil, fmt.Errorf("%s.minAge %q: want a non-negative Go duration", path, rc.MinAge)
			}
		}
		t.rules = append(t.rules, &rule{name: rc.Name, image: rc.Image, policy: pol, envs: rc.Environments, interval: iv, minAge: minAge})
	}
	return w, nil
}

func parseInterval(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("interval %s must be positive", d)
	}
	return d, nil
}

// Repositories returns the canonical names of the repositories this watcher
// (shard) owns, in config order.
func (w *Watcher) Repositories() []string {
	out := make([]string, len(w.targets))
	for i, t := range w.targets {
		out[i] = t.key
	}
	return out
}

// Ready reports whether the first cycle has finished (for /readyz).
func (w *Watcher) Ready() bool { return w.ready.Load() }

// CycleReport sums up one cycle.
type CycleReport struct {
	Checked, Skipped   int
	Promoted, Blocked  int
	Errors             int
	Duration           time.Duration
	FirstErr           error
	BlockedEnvironment []string
	// Undecided says, per environment, why nothing was promoted although a
	// candidate exists: the environment pins a digest the watcher cannot
	// place among the tags, so it cannot tell whether the candidate is newer.
	Undecided []string
}

func (r *CycleReport) add(c checkReport) {
	r.Checked++
	if c.skipped {
		r.Skipped++
	}
	r.Promoted += c.promoted
	r.Blocked += len(c.blocked)
	r.BlockedEnvironment = append(r.BlockedEnvironment, c.blocked...)
	r.Errors += len(c.errs)
	r.Undecided = append(r.Undecided, c.undecided...)
	if r.FirstErr == nil && len(c.errs) > 0 {
		r.FirstErr = c.errs[0]
	}
}

// RunOnce checks every repository once and returns when all checks,
// including their promotions, are done. It fails when any check failed, and
// returns an error wrapping gate.ErrBlocked when a gate blocked a promotion.
func (w *Watcher) RunOnce(ctx context.Context) (CycleReport, error) {
	w.setRunCtx(ctx)
	defer w.clearRunCtx()
	rep := w.cycle(ctx, w.targets)
	w.inflight.Wait()
	switch {
	case rep.Errors > 0:
		return rep, fmt.Errorf("%d of %d repository checks failed; first: %w", rep.Errors, rep.Checked, rep.FirstErr)
	case rep.Blocked > 0:
		return rep, fmt.Errorf("%s: promotion %w", strings.Join(rep.BlockedEnvironment, ", "), gate.ErrBlocked)
	}
	return rep, nil
}

// Run polls until ctx is cancelled, then stops taking work, lets in-flight
// promotions finish within the grace period, and returns nil.
func (w *Watcher) Run(ctx context.Context) error {
	w.setRunCtx(ctx)
	defer w.clearRunCtx()
	defer w.inflight.Wait()
	due := w.targets
	for {
		w.cycle(ctx, due)
		if ctx.Err() != nil {
			return nil
		}
		next := w.nextWake()
		if err := transport.Sleep(ctx, time.Until(next)); err != nil {
			return nil
		}
		due = w.dueTargets(time.Now())
	}
}

func (w *Watcher) setRunCtx(ctx context.Context) {
	w.runMu.Lock()
	defer w.runMu.Unlock()
	w.runCtx = ctx
}

// clearRunCtx forgets the run's context once Run or RunOnce returns, so a
// late trigger does not start work on a finished run.
func (w *Watcher) clearRunCtx() {
	w.runMu.Lock()
	defer w.runMu.Unlock()
	w.runCtx = nil
}

func (w *Watcher) nextWake() time.Time {
	next := time.Now().Add(time.Hour)
	for _, t := range w.targets {
		t.mu.Lock()
		if t.nextDue.Before(next) {
			next = t.nextDue
		}
		t.mu.Unlock()
	}
	return next
}

func (w *Watcher) dueTargets(now time.Time) []*target {
	var due []*target
	for _, t := range w.targets {
		t.mu.Lock()
		if !t.nextDue.After(now) {
			due = append(due, t)
		}
		t.mu.Unlock()
	}
	return due
}

// cycle checks the given targets, at most concurrency at once, and waits for them.
func (w *Watcher) cycle(ctx context.Context, targets []*target) CycleReport {
	start := time.Now()
	ctx = w.newCycle(ctx)
	var (
		mu  sync.Mutex
		rep CycleReport
		wg  sync.WaitGroup
	)
	for _, t := range targets {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, ran := w.checkCoalesced(ctx, t, "poll")
			if !ran {
				return
			}
			mu.Lock()
			rep.add(c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep.Duration = time.Since(start)
	if ctx.Err() == nil {
		w.m.cycleSeconds.Observe(rep.Duration.Seconds())
		if rep.Errors == 0 {
			w.m.lastSuccess.Set(float64(time.Now().Unix()))
		}
		w.ready.Store(true)
		w.log.Info("watch cycle done", zap.Int("repositories", rep.Checked), zap.Int("unchanged", rep.Skipped),
			zap.Int("promoted", rep.Promoted), zap.Int("blocked", rep.Blocked), zap.Int("errors", rep.Errors),
			zap.Strings("undecided", rep.Undecided),
			zap.Duration("took", rep.Duration))
	}
	return rep
}

// checkCoalesced runs one check of t unless one is already running, in which
// case it asks that one to run once more and returns ran=false: any number
// of triggers during a check cost exactly one more check.
func (w *Watcher) checkCoalesced(ctx context.Context, t *target, trigger string) (checkReport, bool) {
	t.mu.Lock()
	if t.running {
		t.again = true
		t.mu.Unlock()
		return checkReport{}, false
	}
	t.running = true
	t.mu.Unlock()
	var rep checkReport
	for {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			t.mu.Lock()
			t.running = false
			t.mu.Unlock()
			return rep, false
		}
		cctx := ctx
		if trigger == "again" {
			// Asked for because something changed during the last check:
			// decide on a fresh read of the environments.
			cctx = w.newCycle(ctx)
		}
		rep = w.check(cctx, t, trigger)
		<-w.sem
		t.mu.Lock()
		t.nextDue = time.Now().Add(w.jittered(t.interval))
		if !t.again || ctx.Err() != nil {
			t.running = false
			t.mu.Unlock()
			return rep, true
		}
		t.again = false
		t.mu.Unlock()
		trigger = "again"
	}
}

func (w *Watcher) jittered(d time.Duration) time.Duration {
	if w.jitter == 0 {
		return d
	}
	span := float64(d) * w.jitter
	return d + time.Duration(span*(2*rand.Float64()-1))
}

// Trigger implements webhook.Trigger: it starts an immediate check of every
// watched repository the event names, without waiting for the poll, and
// returns whether any was watched. Duplicates coalesce (see checkCoalesced).
func (w *Watcher) Trigger(ev webhook.Event) bool {
	w.runMu.Lock()
	ctx := w.runCtx
	w.runMu.Unlock()
	matched := false
	for _, t := range w.targets {
		if !matches(t.repo, ev) {
			continue
		}
		matched = true
		if ev.Tag != "" && !ev.PushedAt.IsZero() {
			t.hint(ev.Tag, ev.PushedAt)
		}
		if ev.Tag != "" {
			t.saw(ev.Tag, time.Now())
		}
		if ctx == nil || ctx.Err() != nil {
			continue
		}
		w.inflight.Add(1)
		go func() {
			defer w.inflight.Done()
			w.checkCoalesced(w.newCycle(ctx), t, "webhook")
		}()
	}
	return matched
}

// matches compares the event's repository path (and host, when both sides
// name a registry that is not Docker Hub's alias) with the watched repository.
func matches(repo name.Repository, ev webhook.Event) bool {
	if ev.Repository != repo.RepositoryStr() {
		return false
	}
	if ev.Host == "" {
		return true
	}
	if _, err := name.NewRegistry(ev.Host, name.WeakValidation); err != nil {
		return false
	}
	// Registries behind proxies are often reached under another name than
	// the one in the payload; a path match on another host only costs one
	// extra check, so only Docker Hub vs. elsewhere is told apart.
	hub := func(s string) bool { return registry.NormalizeHost(s) == name.DefaultRegistry }
	return hub(ev.Host) == hub(repo.RegistryStr())
}

// saw records that key was seen (or announced) at at, unless it was seen
// earlier; it returns the first time. The map is bounded: it only needs to
// outlive the wait between a tag's appearance and its promotion.
func (t *target) saw(key string, at time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if first, ok := t.seen[key]; ok {
		return first
	}
	if t.seen == nil || len(t.seen) >= 256 {
		t.seen = map[string]time.Time{}
	}
	t.seen[key] = at
	return at
}

func (t *target) hint(tag string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.hints) >= 64 {
		clear(t.hints)
	}
	t.hints[tag] = at
}

type checkReport struct {
	skipped   bool
	promoted  int
	blocked   []string
	errs      []error
	undecided []string
	// waiting is set when a decision waits on time (a tag younger than
	// minAge, a hold, a freeze window): the same tags are checked again.
	waiting bool
}

// check is one unit of work: look at one repository, decide, promote.
func (w *Watcher) check(ctx context.Context, t *target, trigger string) checkReport {
	log := w.log.With(zap.String("repository", t.key), zap.String("trigger", trigger))
	ctx = withBudget(ctx, w.budget)
	var rep checkReport
	fail := func(err error) checkReport {
		rep.errs = append(rep.errs, err)
		w.m.polls.WithLabelValues(trigger, "error").Inc()
		return rep
	}
	var tags []string
	if t.listTags {
		var truncated bool
		var err error
		tags, truncated, err = w.reg.Tags(ctx, t.repo, w.maxTags)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("listing tags failed", zap.Error(err))
			}
			return fail(err)
		}
		if truncated {
			w.m.tagsTruncated.Inc()
			t.mu.Lock()
			warn := !t.warnedTrunc
			t.warnedTrunc = true
			t.mu.Unlock()
			if warn {
				log.Warn("tag list truncated at watch.maxTags; newer tags beyond the cap are not seen",
					zap.Int("maxTags", w.maxTags))
			}
		}
	}
	moving := map[string]string{}
	for _, r := range t.rules {
		mt, ok := r.policy.(MovingTag)
		if !ok {
			continue
		}
		if _, done := moving[mt.Tag()]; done {
			continue
		}
		d, err := w.reg.Head(ctx, t.repo.Tag(mt.Tag()))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("resolving moving tag failed", zap.String("tag", mt.Tag()), zap.Error(err))
			}
			return fail(err)
		}
		moving[mt.Tag()] = d
	}
	fp := fingerprint(tags, moving)
	t.mu.Lock()
	unchanged := fp == t.fingerprint && t.settled
	t.mu.Unlock()
	if unchanged {
		w.m.polls.WithLabelValues(trigger, "unchanged").Inc()
		log.Debug("repository unchanged since last check")
		rep.skipped = true
		return rep
	}
	w.m.polls.WithLabelValues(trigger, "changed").Inc()
	cache := newCheckCache()
	for _, r := range t.rules {
		w.checkRule(ctx, t, r, tags, moving, cache, log, &rep)
	}
	// A repository whose check failed only terminally (see
	// promote.TerminalError) is settled: checking the same tags again would
	// fail again. Any retryable failure checks it again next poll.
	t.mu.Lock()
	t.fingerprint, t.settled = fp, !anyRetryable(rep.errs) && ctx.Err() == nil && !rep.waiting
	t.mu.Unlock()
	return rep
}

// anyRetryable reports whether any of errs may succeed when tried again.
func anyRetryable(errs []error) bool {
	for _, err := range errs {
		if !promote.IsTerminal(err) {
			return true
		}
	}
	return false
}

func fingerprint(tags []string, moving map[string]string) string {
	s := slices.Clone(tags)
	slices.Sort(s)
	h := sha256.New()
	for _, t := range s {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(moving))
	for k := range moving {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte("\x01" + k + "=" + moving[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkRule decides and promotes one rule of t into each of its environments.
func (w *Watcher) checkRule(ctx context.Context, t *target, r *rule, tags []string, moving map[string]string,
	cache *checkCache, log *zap.Logger, rep *checkReport) {
	log = log.With(zap.String("rule", r.name))
	mt, isMoving := r.policy.(MovingTag)
	var cand, candDigest string
	if isMoving {
		cand, candDigest = mt.Tag(), moving[mt.Tag()]
	} else {
		var ok bool
		if cand, ok = r.policy.Select(tags); !ok {
			log.Debug("no tag matches the policy")
			return
		}
	}
	log = log.With(zap.String("tag", cand))
	seenKey := cand
	if isMoving {
		seenKey = cand + "@" + candDigest
	}
	seenAt := t.saw(seenKey, w.now())
	// describe fetches the candidate's manifest once per check.
	describe := func() (Image, error) {
		if img, ok := cache.described[cand]; ok {
			return img, nil
		}
		img, err := w.reg.Describe(ctx, t.repo.Tag(cand))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("fetching the candidate's manifest failed", zap.Error(err))
			}
			return Image{}, err
		}
		cache.described[cand] = img
		return img, nil
	}
	type pending struct {
		env string
		u   Update
	}
	var need []pending
	for _, env := range r.envs {
		curTag, curDigest, err := w.cur.Current(ctx, env, r.image)
		if errors.Is(err, ErrNotDeployed) {
			log.Warn("environment does not reference the image; nothing to update", zap.String("environment", env))
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading what the environment runs failed", zap.String("environment", env), zap.Error(err))
			}
			rep.errs = append(rep.errs, fmt.Errorf("reading %s in environment %s: %w", r.image, env, err))
			continue
		}
		switch {
		case isMoving && curDigest == candDigest:
			continue
		case isMoving:
		case curTag == cand:
			continue
		case curTag != "" && !r.policy.Newer(cand, curTag):
			log.Debug("environment runs a newer or equal tag; keeping it", zap.String("environment", env), zap.String("current", curTag))
			continue
		case curTag == "" && curDigest != "":
			// Pinned by digest only: the tag name cannot say which is
			// newer, so find which tag the digest is before replacing it.
			img, err := describe()
			if err != nil {
				rep.errs = append(rep.errs, err)
				return
			}
			place, tag, why, err := w.placePin(ctx, t, r, cand, img.Digest, curDigest, tags, cache)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("placing the pinned digest among the tags failed", zap.String("environment", env), zap.Error(err))
				}
				rep.errs = append(rep.errs, err)
				continue
			}
			switch place {
			case pinUnknown:
				w.undecided(t, r, env, cand, curDigest, why, log, rep)
				continue
			case pinNotOlder:
				log.Debug("environment pins the digest of a newer or equal tag; keeping it", zap.String("environment", env),
					zap.String("current", tag), zap.String("pinned", curDigest))
				continue
			}
		}
		need = append(need, pending{env, Update{Service: r.name, Image: r.image, Tag: cand, Digest: candDigest,
			PreviousTag: curTag, PreviousDigest: curDigest}})
	}
	if len(need) == 0 {
		return
	}
	img, err := describe()
	if err != nil {
		rep.errs = append(rep.errs, err)
		return
	}
	pushed := img.Created
	t.mu.Lock()
	if h, ok := t.hints[cand]; ok {
		pushed = h
	}
	t.mu.Unlock()
	if pushed.Unix() <= 0 {
		pushed = time.Time{}
	}
	if r.minAge > 0 && !w.oldEnough(t, r, cand, seenAt, log, rep) {
		return
	}
	for _, p := range need {
		p.u.Digest, p.u.PushedAt, p.u.SeenAt = img.Digest, pushed, seenAt
		w.promote(ctx, p.env, p.u, log, rep)
	}
}

// promote runs one promotion unless the watcher is stopping. A started
// promotion keeps running after ctx is cancelled for at most the grace
// period, so a SIGTERM never interrupts it at a random point.
func (w *Watcher) promote(ctx context.Context, env string, u Update, log *zap.Logger, rep *checkReport) {
	if ctx.Err() != nil {
		return
	}
	log = log.With(zap.String("environment", env), zap.String("digest", u.Digest))
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(w.grace, cancel)
		context.AfterFunc(pctx, func() { t.Stop() })
	})
	defer stop()
	log.Info("promoting", zap.String("previous", u.PreviousTag))
	out, err := w.prom.Promote(pctx, env, u)
	if err != nil {
		w.m.promotions.WithLabelValues(env, "error").Inc()
		log.Warn("promotion failed", zap.Error(err))
		rep.errs = append(rep.errs, fmt.Errorf("promoting %s to %s: %w", u.Ref(), env, err))
		return
	}
	w.m.promotions.WithLabelValues(env, string(out.Result)).Inc()
	switch out.Result {
	case Promoted:
		rep.promoted++
		w.m.observeTimeToPromotion(u.SeenAt, time.Now())
		log.Info("promoted", zap.String("url", out.URL))
	case Blocked:
		rep.blocked = append(rep.blocked, env)
		w.m.gateBlocks.WithLabelValues(env).Inc()
		log.Warn("promotion blocked by the gate", zap.String("reason", out.Reason))
	case Held:
		rep.waiting = true
		log.Debug("promotion held", zap.String("reason", out.Reason))
	case Frozen:
		rep.waiting = true
		log.Debug("not committing during a freeze window", zap.String("reason", out.Reason))
	default:
		log.Info("environment already up to date")
	}
}

// oldEnough reports whether cand has been around for r.minAge: counted from
// its push time when a webhook told it, else from when this watcher first
// saw it (the registry API has no push time; an image's created time is
// often the commit time of a reproducible build, so it is not used).
func (w *Watcher) oldEnough(t *target, r *rule, cand string, seenAt time.Time, log *zap.Logger, rep *checkReport) bool {
	since := seenAt
	t.mu.Lock()
	if h, ok := t.hints[cand]; ok {
		since = h
	}
	t.mu.Unlock()
	age := w.now().Sub(since)
	if age >= r.minAge {
		return true
	}
	rep.waiting = true
	log.Debug("tag younger than the rule's minAge; waiting", zap.Duration("age", age.Round(time.Second)), zap.Duration("minAge", r.minAge),
		zap.Time("eligible", since.Add(r.minAge)))
	return false
}
