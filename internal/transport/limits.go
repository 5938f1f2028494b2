package transport

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultRPS is the watcher's request rate per registry host when registries[].rps is unset (other
// commands are bursty by nature, a push uploads layers in parallel, and are not limited by default).
const DefaultRPS = 10

// Limits holds one token bucket and one "quiet until" time per host, shared by every request to that
// host: when a server answers 429 or 503 with Retry-After, every sender pauses for that host, not only
// the one that was told to. It is safe for concurrent use.
type Limits struct {
	mu      sync.Mutex
	rps     map[string]float64
	def     float64
	key     func(string) string
	buckets map[string]*hostState
}

type hostState struct {
	lim   *rate.Limiter
	mu    sync.Mutex
	quiet time.Time
}

// NewLimits returns limits of rps requests per second per host and def for hosts not listed (a rate
// <= 0 means no limit). key maps a request's host[:port] to the key of rps (e.g. registry host
// normalisation, so that docker.io in config limits index.docker.io); nil keeps hosts as they are.
func NewLimits(rps map[string]float64, def float64, key func(host string) string) *Limits {
	if key == nil {
		key = func(h string) string { return h }
	}
	return &Limits{rps: rps, def: def, key: key, buckets: map[string]*hostState{}}
}

func (l *Limits) host(h string) *hostState {
	k := l.key(h)
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.buckets[k]
	if !ok {
		r := l.rps[k]
		if r <= 0 {
			r = l.def
		}
		lim := rate.NewLimiter(rate.Inf, 0)
		if r > 0 {
			lim = rate.NewLimiter(rate.Limit(r), max(int(r), 1))
		}
		s = &hostState{lim: lim}
		l.buckets[k] = s
	}
	return s
}

// Wait blocks until host is not paused and a token is available, or ctx is done.
func (l *Limits) Wait(ctx context.Context, host string) error {
	s := l.host(host)
	for {
		s.mu.Lock()
		d := time.Until(s.quiet)
		s.mu.Unlock()
		if d <= 0 {
			break
		}
		if err := Sleep(ctx, d); err != nil {
			return err
		}
	}
	return s.lim.Wait(ctx)
}

// Rate is the request rate allowed to host (rate.Inf when unlimited).
func (l *Limits) Rate(host string) rate.Limit { return l.host(host).lim.Limit() }

// take waits for a token of host only: a sender that has just waited out its own pause.
func (l *Limits) take(ctx context.Context, host string) error {
	return l.host(host).lim.Wait(ctx)
}

// Pause keeps every request to host waiting for d from now (longer pauses win).
func (l *Limits) Pause(host string, d time.Duration) {
	s := l.host(host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := time.Now().Add(d); t.After(s.quiet) {
		s.quiet = t
	}
}
