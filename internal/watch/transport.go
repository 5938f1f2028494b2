package watch

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// DefaultRPS is the request rate allowed per registry host when registries[].rps is 0.
const DefaultRPS = 10

// HostLimits holds one token bucket and one "quiet until" time per registry
// host, shared by every request to that host: when a registry answers 429 or
// 503 with Retry-After, all workers pause for that host, not only the one
// that was told to.
type HostLimits struct {
	mu      sync.Mutex
	rps     map[string]float64
	def     float64
	buckets map[string]*hostState
}

type hostState struct {
	lim   *rate.Limiter
	mu    sync.Mutex
	quiet time.Time
}

// NewHostLimits returns limits with rps per host (requests per second) and
// def for hosts not listed; a rate <= 0 means DefaultRPS.
func NewHostLimits(rps map[string]float64, def float64) *HostLimits {
	if def <= 0 {
		def = DefaultRPS
	}
	return &HostLimits{rps: rps, def: def, buckets: map[string]*hostState{}}
}

func (l *HostLimits) host(h string) *hostState {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.buckets[h]
	if !ok {
		r := l.rps[h]
		if r <= 0 {
			r = l.def
		}
		burst := int(r)
		if burst < 1 {
			burst = 1
		}
		s = &hostState{lim: rate.NewLimiter(rate.Limit(r), burst)}
		l.buckets[h] = s
	}
	return s
}

// wait blocks until the host is not paused and a token is available.
func (s *hostState) wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		d := time.Until(s.quiet)
		s.mu.Unlock()
		if d <= 0 {
			break
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	return s.lim.Wait(ctx)
}

func (s *hostState) pause(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := time.Now().Add(d); t.After(s.quiet) {
		s.quiet = t
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// politeTransport rate-limits requests per host and retries idempotent
// requests answered with 429 or a 5xx, honouring Retry-After (seconds or an
// HTTP date) and otherwise backing off exponentially with jitter.
type politeTransport struct {
	next     http.RoundTripper
	limits   *HostLimits
	attempts int
	base     time.Duration
	maxWait  time.Duration
	log      *zap.Logger
}

// NewPoliteTransport wraps next with per-host token buckets and back-off.
// At most attempts tries are made per request; a Retry-After longer than
// maxWait is not waited for and the response is returned as is.
func NewPoliteTransport(next http.RoundTripper, limits *HostLimits, log *zap.Logger) http.RoundTripper {
	return &politeTransport{next: next, limits: limits, attempts: 5, base: 500 * time.Millisecond, maxWait: 2 * time.Minute, log: log}
}

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter reads a Retry-After header as delta-seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	host := t.limits.host(req.URL.Host)
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 1; ; attempt++ {
		if err := host.wait(ctx); err != nil {
			return nil, err
		}
		r := req
		if attempt > 1 && req.Body != nil && req.GetBody != nil {
			b, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(ctx)
			r.Body = b
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || !idempotent || !retryable(resp.StatusCode) || attempt >= t.attempts {
			return resp, err
		}
		wait, told := retryAfter(resp.Header, time.Now())
		if !told {
			back := t.base << (attempt - 1)
			wait = back/2 + rand.N(back/2+1)
		}
		if wait > t.maxWait {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		host.pause(wait)
		t.log.Info("registry asked to slow down; waiting",
			zap.String("host", req.URL.Host), zap.Int("status", resp.StatusCode),
			zap.Duration("wait", wait), zap.Bool("retryAfter", told), zap.Int("attempt", attempt))
	}
}

// countingTransport counts every request that reached the wire by host, method and status.
type countingTransport struct {
	next http.RoundTripper
	m    *Metrics
}

// NewCountingTransport wraps next so each attempt is counted in
// registry_requests_total; transport errors count with code "error".
func NewCountingTransport(next http.RoundTripper, m *Metrics) http.RoundTripper {
	return &countingTransport{next: next, m: m}
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.m.registryRequests.WithLabelValues(req.URL.Host, req.Method, code).Inc()
	return resp, err
}

var (
	_ http.RoundTripper = (*politeTransport)(nil)
	_ http.RoundTripper = (*countingTransport)(nil)
)

// NewTransport composes the registry transport the watcher uses: per-host
// rate limits and back-off outside, request counting inside, so every
// attempt (including each 429) is counted once.
func NewTransport(base http.RoundTripper, limits *HostLimits, m *Metrics, log *zap.Logger) http.RoundTripper {
	return NewPoliteTransport(NewCountingTransport(base, m), limits, log)
}
