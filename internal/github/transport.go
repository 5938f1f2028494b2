package github

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/transport"
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

// githubLimits is the transport.Classifier for GitHub's rate limits, in
// front of the default 429/5xx rules: primary rate limits (403/429 with
// X-RateLimit-Remaining: 0, waiting until X-RateLimit-Reset) and secondary
// rate limits (403/429 with Retry-After or GitHub's "secondary rate limit"
// message). A 5xx with Retry-After is left to the default rules.
func githubLimits(base time.Duration) transport.Classifier {
	return func(resp *http.Response, now time.Time, backoff time.Duration) (time.Duration, bool, bool) {
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusForbidden {
			return 0, false, false
		}
		if d, ok := transport.RetryAfter(resp.Header, now); ok {
			return d, true, true
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
				return max(time.Unix(reset, 0).Sub(now)+time.Second, base), true, true
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests || isSecondaryLimit(resp) {
			// GitHub asks to wait at least a minute when it gives no hint.
			return max(backoff, time.Minute), true, true
		}
		return 0, false, true
	}
}

// newRetryTransport wraps next with the shared retrying transport under
// policy: 5xx answers and network errors are retried with back-off, GitHub's
// rate limits as githubLimits says. Request bodies are replayed (go-github
// builds every request with GetBody). A wait longer than policy.MaxDelay is
// not waited for: the caller sees GitHub's rate limit error instead of a
// silent hang.
func newRetryTransport(next http.RoundTripper, policy RetryPolicy, log *zap.Logger, extra ...transport.RetryOption) (http.RoundTripper, error) {
	opts := []transport.RetryOption{
		transport.WithAttempts(max(policy.MaxAttempts, 1)),
		transport.WithBackoff(policy.BaseDelay, policy.MaxDelay),
		transport.WithRetryErrors(),
		transport.WithClassifier(githubLimits(policy.BaseDelay)),
		transport.WithLogger(log, "GitHub"),
	}
	return transport.NewRetry(next, append(opts, extra...)...)
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

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
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
