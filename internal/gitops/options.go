package gitops

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/transport"
)

type options struct {
	links    Links
	log      *zap.Logger
	retryFor time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	// jitter draws the wait before a retry from [0, n) (full jitter).
	jitter   func(n time.Duration) time.Duration
	author   *Author
	workDir  string
	verifier Verifier
}

// DefaultRetryFor is how long a write-back keeps retrying after lost races
// when neither the environment (retryFor) nor WithRetryFor says otherwise:
// long enough for dozens of writers fanning in to one branch at ordinary
// GitHub latency to land one after the other.
const DefaultRetryFor = 5 * time.Minute

// Back-off between attempts after a lost race: exponential from
// retryBackoffBase, capped at retryBackoffCap, with full jitter (a uniform
// wait in [0, the exponential bound)), which spreads racing writers apart
// fastest (AWS Architecture Blog, "Exponential Backoff And Jitter").
const (
	retryBackoffBase = 250 * time.Millisecond
	retryBackoffCap  = 15 * time.Second
)

// Author is a commit author for the local git writer (the GitHub writer
// never sets one, so GitHub signs its commits).
type Author struct{ Name, Email string }

// Option configures a writer.
type Option func(*options) error

// WithServerURL sets the GitHub web base URL used in links ($GITHUB_SERVER_URL).
func WithServerURL(u string) Option {
	return func(o *options) error { o.links.ServerURL = u; return nil }
}

// WithLogger logs progress; the default logs nothing.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.log = l
		return nil
	}
}

// WithRetryFor bounds, by time, how long a write-back keeps re-reading and
// re-applying when a concurrent push wins the race to move the branch
// (default DefaultRetryFor; an environment's retryFor overrides it). Retries
// are bounded by time rather than count because the number of racing writers
// is not known: with many writers fanning in, each needs more tries.
func WithRetryFor(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return errors.New("retry duration must be positive")
		}
		o.retryFor = d
		return nil
	}
}

// WithVerifier sets what re-checks the pending updates a pull request
// branch carries over from earlier runs before they are written again. The
// default refuses them all (ErrUnverified): an update that cannot be
// re-verified is dropped and named in the pull request, never trusted.
func WithVerifier(v Verifier) Option {
	return func(o *options) error {
		if v == nil {
			return errors.New("nil verifier")
		}
		o.verifier = v
		return nil
	}
}

// WithClock sets the clock that dates new updates.
func WithClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}

// WithAuthor sets the local git writer's commit author.
func WithAuthor(name, email string) Option {
	return func(o *options) error {
		if name == "" || email == "" {
			return errors.New("author needs a name and an email")
		}
		o.author = &Author{Name: name, Email: email}
		return nil
	}
}

// WithWorkDir sets where the local git writer clones (default: a temporary
// directory per write-back, removed afterwards).
func WithWorkDir(dir string) Option {
	return func(o *options) error { o.workDir = dir; return nil }
}

func buildOptions(opts []Option) (options, error) {
	o := options{links: Links{ServerURL: "https://github.com"}, log: zap.NewNop(), retryFor: DefaultRetryFor, now: time.Now, sleep: transport.Sleep, verifier: refuseCarried{},
		jitter: func(n time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(n))) }}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// backoff is the wait before the attempt after attempt n (1-based) lost a
// race: full jitter below an exponential bound.
func (o *options) backoff(n int) time.Duration {
	bound := retryBackoffCap
	if n < 16 && retryBackoffBase<<(n-1) < bound {
		bound = retryBackoffBase << (n - 1)
	}
	return o.jitter(bound)
}

// stampUpdates dates updates that carry no time.
func stampUpdates(us []Update, now time.Time) []Update {
	out := make([]Update, len(us))
	for i, u := range us {
		if u.At.IsZero() {
			u.At = now.UTC().Truncate(time.Second)
		}
		out[i] = u
	}
	return out
}
