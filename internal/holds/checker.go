package holds

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// Reader is what the Checker reads from the manifests repository;
// gitops.Writer satisfies it.
type Reader interface {
	gitops.History
	Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]gitops.Image, error)
}

// DefaultDepth is how many commits of a file's history the Checker reads
// to find automator's last promotion of a service.
const DefaultDepth = 30

// Checker answers which services of an environment automation must not
// promote: those the holds file holds, and those whose value was reverted
// (set by a commit without automator's trailers to the value automator's
// last promotion replaced) and not released since. It says so once per
// hold (Info), then only at Debug. Values read at a commit are cached (a
// commit never changes), so repeated checks cost one history page per file.
type Checker struct {
	Reader Reader
	Logger *zap.Logger
	// Depth bounds the history read per file (DefaultDepth when 0).
	Depth int

	mu        sync.Mutex
	announced map[string]string         // env/service → what was said
	values    map[string]map[string]pin // env@commit → service → value
}

// pin is a service's value at a commit.
type pin struct{ tag, digest string }

// String is TAG, TAG@DIGEST or @DIGEST.
func (p pin) String() string {
	switch {
	case p.digest == "":
		return p.tag
	case p.tag == "":
		return "@" + p.digest
	}
	return p.tag + "@" + p.digest
}

// Held returns the holds on env's services (images: service → repository
// as the manifests name it): explicit holds from the holds file (one with
// an empty Service holds them all) and holds implied by reverts.
func (c *Checker) Held(ctx context.Context, env config.Environment, images map[string]string) ([]Hold, error) {
	f, err := Load(ctx, c.Reader, env)
	if err != nil {
		return nil, err
	}
	var out []Hold
	if h := f.For(env.Name, ""); h != nil {
		out = append(out, *h)
		c.announce(env.Name, *h)
		return out, nil
	}
	names := make([]string, 0, len(images))
	for s := range images {
		names = append(names, s)
	}
	sort.Strings(names)
	var rest []string
	for _, s := range names {
		if h := f.For(env.Name, s); h != nil {
			out = append(out, *h)
			c.announce(env.Name, *h)
			continue
		}
		rest = append(rest, s)
	}
	if len(rest) == 0 {
		return out, nil
	}
	implied, err := c.reverts(ctx, env, images, rest, f)
	if err != nil {
		return nil, err
	}
	for _, h := range implied {
		c.announce(env.Name, h)
	}
	return append(out, implied...), nil
}

// reverts finds the services among names whose pinned value reverts
// automator's last promotion of them, unless released.
func (c *Checker) reverts(ctx context.Context, env config.Environment, images map[string]string, names []string, f *File) ([]Hold, error) {
	want := map[string]string{}
	for _, s := range names {
		want[s] = images[s]
	}
	cur, err := c.Reader.Current(ctx, env, "", want)
	if err != nil {
		return nil, fmt.Errorf("environment %q: reading what it pins: %w", env.Name, err)
	}
	depth := c.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	logs := map[string][]gitops.Commit{}
	var out []Hold
	for _, im := range cur {
		log, ok := logs[im.File]
		if !ok {
			if log, err = c.Reader.Log(ctx, env, im.File, depth); err != nil {
				return nil, err
			}
			logs[im.File] = log
		}
		now := pin{im.Tag, im.Digest}
		h, err := c.revert(ctx, env, im.Service, want, now, log)
		if err != nil {
			return nil, err
		}
		if h != nil && !f.released(env.Name, im.Service, h.Reverted) {
			out = append(out, *h)
		}
	}
	return out, nil
}

// promotedBy reports whether automator's commit c promoted service in env.
func promotedBy(c gitops.Commit, env, service string) bool {
	return slices.Contains(c.Trailer("Automator-Environment"), env) && slices.Contains(c.Trailer("Automator-Service"), service)
}

// revert decides one service: automator's newest commit A promoting it;
// if the value now differs from A's, and equals the value before A (or a
// digest an older automator commit promoted), it is a revert.
func (c *Checker) revert(ctx context.Context, env config.Environment, service string, images map[string]string, now pin, log []gitops.Commit) (*Hold, error) {
	i := slices.IndexFunc(log, func(cm gitops.Commit) bool { return promotedBy(cm, env.Name, service) })
	if i < 0 {
		return nil, nil // automator never promoted it here (as far as we read)
	}
	a := log[i]
	wrote, err := c.valueAt(ctx, env, a.SHA, service, images)
	if err != nil || wrote == now {
		return nil, err
	}
	older := false
	if len(a.Parents) > 0 {
		// The parent may predate the environment's files: then nothing
		// before automator's commit is known, and only older promotions
		// (below) can show the value is older.
		if before, err := c.valueAt(ctx, env, a.Parents[0], service, images); err == nil {
			older = before == now
		}
	}
	for _, b := range log[i+1:] {
		if older || now.digest == "" {
			break
		}
		older = promotedBy(b, env.Name, service) && slices.Contains(b.Trailer("Automator-Digest"), now.digest)
	}
	if !older {
		return nil, nil // moved by hand to something automator never ran before it: not a revert
	}
	return &Hold{Environment: env.Name, Service: service, Reverted: a.SHA, Pinned: now.String(),
		Reason: fmt.Sprintf("pins %s, a revert of %s that automator promoted in %s; automation will not promote over it until `automator release --env %s --service %s`",
			now, wrote, short(a.SHA), env.Name, service)}, nil
}

// valueAt is service's value at commit. One read answers every service of
// images at that commit (a promotion commit usually changed many), and
// answers are cached: commits never change. A service the files do not pin
// there has the zero value.
func (c *Checker) valueAt(ctx context.Context, env config.Environment, commit, service string, images map[string]string) (pin, error) {
	key := env.Name + "@" + commit
	c.mu.Lock()
	p, ok := c.values[key][service]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	imgs, err := c.Reader.Current(ctx, env, commit, images)
	if err != nil {
		return pin{}, fmt.Errorf("environment %q: reading %s at %s: %w", env.Name, service, short(commit), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.values == nil || len(c.values) > 4096 {
		c.values = map[string]map[string]pin{}
	}
	m := c.values[key]
	if m == nil {
		m = map[string]pin{}
		c.values[key] = m
	}
	for s := range images {
		if _, ok := m[s]; !ok {
			m[s] = pin{}
		}
	}
	for _, im := range imgs {
		m[im.Service] = pin{im.Tag, im.Digest}
	}
	return m[service], nil
}

// announce logs a hold at Info the first time (or when it changes), and at
// Debug on every later check, so a watcher says it once.
func (c *Checker) announce(env string, h Hold) {
	log := c.Logger
	if log == nil {
		log = zap.NewNop()
	}
	key := env + "/" + h.Service
	what := h.Describe()
	c.mu.Lock()
	if c.announced == nil {
		c.announced = map[string]string{}
	}
	first := c.announced[key] != what
	c.announced[key] = what
	c.mu.Unlock()
	service := h.Service
	if service == "" {
		service = "*"
	}
	fields := []zap.Field{zap.String("environment", env), zap.String("service", service), zap.String("hold", what)}
	if first {
		log.Info("not promoting a held service", fields...)
		return
	}
	log.Debug("not promoting a held service", fields...)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Since returns since when env has pinned, without interruption, the value
// it pins now for service (repository as the manifests name it): the
// committer date of the oldest commit, among the file's last Depth changes,
// from which on the value is the same. ok is false when env does not pin
// the service or its file has no history.
func (c *Checker) Since(ctx context.Context, env config.Environment, service, repository string) (since time.Time, ok bool, err error) {
	images := map[string]string{service: repository}
	cur, err := c.Reader.Current(ctx, env, "", images)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("environment %q: reading what it pins: %w", env.Name, err)
	}
	i := slices.IndexFunc(cur, func(im gitops.Image) bool { return im.Service == service })
	if i < 0 {
		return time.Time{}, false, nil
	}
	now := pin{cur[i].Tag, cur[i].Digest}
	depth := c.Depth
	if depth <= 0 {
		depth = DefaultDepth
	}
	log, err := c.Reader.Log(ctx, env, cur[i].File, depth)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, cm := range log {
		v, err := c.valueAt(ctx, env, cm.SHA, service, images)
		if err != nil {
			return time.Time{}, false, err
		}
		if v != now {
			break
		}
		since, ok = cm.When, true
	}
	return since, ok, nil
}
