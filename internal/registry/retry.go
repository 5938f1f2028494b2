package registry

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// retryTransport re-sends requests that failed with 429 or a 5xx, waiting for the registry's
// Retry-After when it sends one and exponential back-off otherwise. Only requests whose body can be
// replayed (no body, or GetBody set) are retried; streamed blob uploads are retried whole by
// go-containerregistry's own upload loop instead.
type retryTransport struct {
	inner    http.RoundTripper
	log      *zap.Logger
	attempts int
	base     time.Duration
	max      time.Duration
	sleep    func(ctx context.Context, d time.Duration) error
}

var _ http.RoundTripper = (*retryTransport)(nil)

// RetryOption configures NewRetryTransport.
type RetryOption func(*retryTransport)

// WithAttempts sets how many times a request is sent at most (default 5).
func WithAttempts(n int) RetryOption {
	return func(t *retryTransport) {
		if n > 0 {
			t.attempts = n
		}
	}
}

// WithBackoff sets the first back-off delay (doubled on each retry) and the longest wait, which also
// caps Retry-After (defaults 500ms and 1m).
func WithBackoff(base, max time.Duration) RetryOption {
	return func(t *retryTransport) {
		if base > 0 {
			t.base = base
		}
		if max > 0 {
			t.max = max
		}
	}
}

// WithRetryLogger logs each retry (method, host, path, status, wait) at warn level; never headers.
func WithRetryLogger(l *zap.Logger) RetryOption {
	return func(t *retryTransport) {
		if l != nil {
			t.log = l
		}
	}
}

// withSleep replaces the wait between attempts (tests record the waits instead of sleeping).
func withSleep(f func(ctx context.Context, d time.Duration) error) RetryOption {
	return func(t *retryTransport) { t.sleep = f }
}

// NewRetryTransport decorates inner with retries on 429 and 5xx responses honouring Retry-After.
func NewRetryTransport(inner http.RoundTripper, opts ...RetryOption) http.RoundTripper {
	t := &retryTransport{inner: inner, log: zap.NewNop(), attempts: 5, base: 500 * time.Millisecond, max: time.Minute, sleep: sleepCtx}
	for _, o := range opts {
		o(t)
	}
	return t
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RoundTrip implements http.RoundTripper.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 1; ; attempt++ {
		resp, err := t.inner.RoundTrip(req)
		if err != nil || !retryable(resp.StatusCode) || !replayable || attempt >= t.attempts {
			return resp, err
		}
		wait := t.wait(resp, attempt)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		t.log.Warn("retrying registry request", zap.String("method", req.Method), zap.String("host", req.URL.Host),
			zap.String("path", req.URL.Path), zap.Int("status", resp.StatusCode), zap.Int("attempt", attempt), zap.Duration("wait", wait))
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// wait is Retry-After (seconds or HTTP date) when present, else base·2^(attempt-1), both capped at max.
func (t *retryTransport) wait(resp *http.Response, attempt int) time.Duration {
	d := t.base << (attempt - 1)
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
			d = time.Duration(s) * time.Second
		} else if at, err := http.ParseTime(ra); err == nil {
			d = max(time.Until(at), 0)
		}
	}
	return min(d, t.max)
}
