package transport

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter reads a Retry-After header, delta-seconds or an HTTP date (RFC 9110 §10.2.3), as a wait
// from now. A date in the past is a zero wait; a missing, negative or malformed value is not told.
// It is the project's only Retry-After parser.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		// Far-future values saturate instead of overflowing into a negative wait.
		if s > int64(maxWait/time.Second) {
			return maxWait, true
		}
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// maxWait bounds parsed waits so that arithmetic on them cannot overflow.
const maxWait = 100 * 365 * 24 * time.Hour

// Sleep waits d, or returns ctx's error as soon as ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
