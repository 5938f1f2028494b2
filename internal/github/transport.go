package github

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// RetryPolicy bounds how the retrying transport waits. The zero value is not
// useful; DefaultRetryPolicy is what the client factory uses.
type RetryPolicy struct {
	// MaxAttempts is the number of tries per request, the first included.
	MaxAttempts int
	// BaseDelay is the first back-off for a 5xx; it doubles on each retry and
	// gets up to 50% jitter.
	BaseDelay time.Duration
	// MaxDelay caps one wait. A Retry-After or X-RateLimit-Reset further away
	// than this is not waited for: the response is handed back so that the
	// caller sees GitHub's rate limit error instead of a silent hang.
	MaxDelay time.Duration
}

// DefaultRetryPolicy retries four times over a few seconds for transient
// errors and waits up to a minute for a rate limit to reset.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, BaseDelay: 500 * time.Millisecond, MaxDelay: time.Minute}

// retryTransport retries requests that failed for reasons that go away by
// themselves: 5xx answers, network errors, primary rate limits (403/429 with
// X-RateLimit-Remaining: 0, waiting until X-RateLimit-Reset) and secondary
// rate limits (403/429 with Retry-After or GitHub's "secondary rate limit"
// message). Request bodies are replayed, so it is safe under any sender that
// builds requests with a replayable body (go-github does).
type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	log    *zap.Logger
}

// NewRetryTransport wraps next with bounded retries honouring Retry-After and
// X-RateLimit-Reset. A nil logger logs nothing.
func NewRetryTransport(next http.RoundTripper, policy RetryPolicy, log *zap.Logger) http.RoundTripper {
	if log == nil {
		log = zap.NewNop()
	}
	return &retryTransport{next: next, policy: policy, sleep: sleepCtx, now: time.Now, log: log}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("buffering request body of %s %s: %w", req.Method, req.URL.Path, err)
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	attempts := max(t.policy.MaxAttempts, 1)
	for attempt := 1; ; attempt++ {
		try := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replaying request body of %s %s: %w", req.Method, req.URL.Path, err)
			}
			try = req.Clone(req.Context())
			try.Body = body
		}
		resp, err := t.next.RoundTrip(try)
		if attempt >= attempts {
			return resp, err
		}
		if req.Context().Err() != nil {
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
		t.log.Debug("retrying GitHub request",
			zap.String("method", req.Method), zap.String("path", req.URL.Path),
			zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Int("status", statusOf(resp)), zap.Error(err))
		if serr := t.sleep(req.Context(), wait); serr != nil {
			return nil, fmt.Errorf("waiting to retry %s %s: %w", req.Method, req.URL.Path, serr)
		}
	}
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// decide reports whether to retry and after how long. Responses that may be
// retried have their body buffered so that a response handed back is intact.
func (t *retryTransport) decide(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if err != nil {
		return t.backoff(attempt), true
	}
	switch {
	case resp.StatusCode >= 500:
		if d, ok := t.retryAfter(resp); ok {
			return d, d <= t.policy.MaxDelay
		}
		return t.backoff(attempt), true
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden:
		if d, ok := t.retryAfter(resp); ok {
			return d, d <= t.policy.MaxDelay
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				d := time.Unix(reset, 0).Sub(t.now()) + time.Second
				d = max(d, t.policy.BaseDelay)
				return d, d <= t.policy.MaxDelay
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests || isSecondaryLimit(resp) {
			// GitHub asks to wait at least a minute when it gives no hint.
			d := max(t.backoff(attempt), time.Minute)
			return d, d <= t.policy.MaxDelay
		}
	}
	return 0, false
}

func (t *retryTransport) retryAfter(resp *http.Response) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(t.now()), 0), true
	}
	return 0, false
}

// isSecondaryLimit peeks at a 403 body for GitHub's secondary rate limit
// message, restoring the body for the caller.
func isSecondaryLimit(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return false
	}
	s := strings.ToLower(string(b))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse detection")
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.policy.BaseDelay << (attempt - 1)
	if d <= 0 || d > t.policy.MaxDelay {
		d = t.policy.MaxDelay
	}
	return d + time.Duration(rand.Int64N(int64(d)/2+1))
}

// userAgentTransport sets the User-Agent on every request.
type userAgentTransport struct {
	next http.RoundTripper
	ua   string
}

func (t *userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", t.ua)
	return t.next.RoundTrip(req)
}

// loggingTransport logs each request at debug level: method, path, status and
// duration. Headers are never logged, so credentials cannot leak; the query
// string is dropped for the same reason.
type loggingTransport struct {
	next http.RoundTripper
	log  *zap.Logger
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	if ce := t.log.Check(zap.DebugLevel, "GitHub request"); ce != nil {
		fields := []zap.Field{
			zap.String("method", req.Method), zap.String("host", req.URL.Host), zap.String("path", req.URL.Path),
			zap.Int("status", statusOf(resp)), zap.Duration("duration", time.Since(start)),
		}
		if resp != nil {
			if rem := resp.Header.Get("X-RateLimit-Remaining"); rem != "" {
				fields = append(fields, zap.String("rateLimitRemaining", rem))
			}
		}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		ce.Write(fields...)
	}
	return resp, err
}
