package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Classifier adds service-specific retry rules (GitHub's rate limit headers) in front of the default
// ones. backoff is the back-off this attempt would get. When decided is false the default rules apply:
// 429 and 5xx are retried after Retry-After, or after backoff when the server gives no hint.
type Classifier func(resp *http.Response, now time.Time, backoff time.Duration) (wait time.Duration, retry, decided bool)

// retryTransport re-sends requests that failed for reasons that go away by themselves. Only requests
// whose body can be replayed (no body, or GetBody set) are re-sent; streamed uploads fail through to
// the caller (go-containerregistry retries a whole upload itself).
type retryTransport struct {
	next        http.RoundTripper
	attempts    int
	base, max   time.Duration
	jitter      bool
	capLong     bool
	retryErrors bool
	classify    Classifier
	limits      *Limits
	log         *zap.Logger
	msg         string
	sleep       func(ctx context.Context, d time.Duration) error
	now         func() time.Time
}

// RetryOption configures NewRetry.
type RetryOption func(*retryTransport) error

// WithAttempts sets how many times a request is sent at most, the first included (default 5).
func WithAttempts(n int) RetryOption {
	return func(t *retryTransport) error {
		if n < 1 {
			return fmt.Errorf("attempts must be at least 1, got %d", n)
		}
		t.attempts = n
		return nil
	}
}

// WithBackoff sets the first back-off delay (doubled on each retry) and the longest single wait
// (defaults 500ms and 1m). A Retry-After or rate limit reset further away than max is not waited for:
// the response is handed back so that the caller sees the rate limit instead of a silent hang (unless
// WithCapLongWaits).
func WithBackoff(base, max time.Duration) RetryOption {
	return func(t *retryTransport) error {
		if base < 0 || max <= 0 || max < base {
			return fmt.Errorf("invalid back-off %v..%v", base, max)
		}
		t.base, t.max = base, max
		return nil
	}
}

// WithoutJitter makes back-off exactly base·2^(attempt-1). By default each back-off is drawn from
// [d/2, d] so that many senders refused at once spread out.
func WithoutJitter() RetryOption {
	return func(t *retryTransport) error { t.jitter = false; return nil }
}

// WithCapLongWaits waits the longest wait and retries when told to wait longer, instead of handing the
// response back.
func WithCapLongWaits() RetryOption {
	return func(t *retryTransport) error { t.capLong = true; return nil }
}

// WithRetryErrors also retries transport errors (connection refused, reset, deadline of one attempt)
// with back-off. Registry traffic leaves them to go-containerregistry's own temporary-error retries.
func WithRetryErrors() RetryOption {
	return func(t *retryTransport) error { t.retryErrors = true; return nil }
}

// WithClassifier adds service-specific rules in front of the default ones.
func WithClassifier(c Classifier) RetryOption {
	return func(t *retryTransport) error { t.classify = c; return nil }
}

// WithLimits waits for a token of the request's host before every attempt, and pauses the host for
// everyone while a retry waits.
func WithLimits(l *Limits) RetryOption {
	return func(t *retryTransport) error {
		if l == nil {
			return errors.New("nil limits")
		}
		t.limits = l
		return nil
	}
}

// WithLogger logs each retry at info level, as "<service> asked to slow down; waiting" with method,
// host, path, status, wait and attempt; never headers or query strings.
func WithLogger(l *zap.Logger, service string) RetryOption {
	return func(t *retryTransport) error {
		if l == nil {
			return errors.New("nil logger")
		}
		t.log, t.msg = l, service+" asked to slow down; waiting"
		return nil
	}
}

// WithSleep replaces the wait between attempts (tests record waits instead of sleeping).
func WithSleep(f func(ctx context.Context, d time.Duration) error) RetryOption {
	return func(t *retryTransport) error { t.sleep = f; return nil }
}

// WithClock sets the clock Retry-After dates and rate limit resets are measured against.
func WithClock(now func() time.Time) RetryOption {
	return func(t *retryTransport) error { t.now = now; return nil }
}

// NewRetry decorates next with bounded retries of 429 and 5xx answers (and of whatever a Classifier
// adds), honouring Retry-After, with exponential back-off and jitter otherwise.
func NewRetry(next http.RoundTripper, opts ...RetryOption) (http.RoundTripper, error) {
	t := &retryTransport{next: next, attempts: 5, base: 500 * time.Millisecond, max: time.Minute, jitter: true,
		log: zap.NewNop(), msg: "server asked to slow down; waiting", sleep: Sleep, now: time.Now}
	for _, o := range opts {
		if err := o(t); err != nil {
			return nil, fmt.Errorf("configuring retries: %w", err)
		}
	}
	return t, nil
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 1; ; attempt++ {
		if t.limits != nil {
			// A retry has waited out its own pause already; it only needs a token.
			wait := t.limits.Wait
			if attempt > 1 {
				wait = t.limits.take
			}
			if err := wait(ctx, req.URL.Host); err != nil {
				return nil, err
			}
		}
		try := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replaying request body of %s %s: %w", req.Method, req.URL.Path, err)
			}
			try = req.Clone(ctx)
			try.Body = body
		}
		resp, err := t.next.RoundTrip(try)
		if !replayable || attempt >= t.attempts {
			return resp, err
		}
		wait, retry := t.decide(resp, err, attempt)
		if !retry {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		if ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			}
			return nil, err
		}
		if t.limits != nil {
			t.limits.Pause(req.URL.Host, wait)
		}
		fields := []zap.Field{zap.String("method", req.Method), zap.String("host", req.URL.Host), zap.String("path", req.URL.Path),
			zap.Int("status", statusOf(resp)), zap.Duration("wait", wait), zap.Int("attempt", attempt)}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		t.log.Info(t.msg, fields...)
		if err := t.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// decide reports whether to retry and after how long.
func (t *retryTransport) decide(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	back := t.backoff(attempt)
	if err != nil {
		return back, t.retryErrors
	}
	now := t.now()
	wait, retry, decided := time.Duration(0), false, false
	if t.classify != nil {
		wait, retry, decided = t.classify(resp, now, back)
	}
	if !decided {
		if !Retryable(resp.StatusCode) {
			return 0, false
		}
		wait, retry = back, true
		if d, ok := RetryAfter(resp.Header, now); ok {
			wait = d
		}
	}
	if retry && wait > t.max {
		if !t.capLong {
			return 0, false
		}
		wait = t.max
	}
	return wait, retry
}

// backoff is base·2^(attempt-1), capped at max, drawn from its upper half when jittered.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.base << (attempt - 1)
	if d <= 0 || d > t.max {
		d = t.max
	}
	if t.jitter {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// Retryable reports whether a status means "try again later": 429 and the transient 5xx.
func Retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
