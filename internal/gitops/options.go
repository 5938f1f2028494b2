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
	links       Links
	log         *zap.Logger
	maxAttempts int
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	author      *Author
	workDir     string
}

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

// WithMaxAttempts bounds the tries when a concurrent push wins the race
// (default 6).
func WithMaxAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return errors.New("max attempts must be at least 1")
		}
		o.maxAttempts = n
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
	o := options{links: Links{ServerURL: "https://github.com"}, log: zap.NewNop(), maxAttempts: 6, now: time.Now, sleep: transport.Sleep}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// jitter is the wait before retry attempt n after losing a race: growing,
// randomised so that racing writers spread out.
func jitter(n int) time.Duration {
	base := time.Duration(n) * 150 * time.Millisecond
	return base + time.Duration(rand.Int64N(int64(base)+1))
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
