package harness

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Fault describes responses to inject in place of the real ones, for requests that match Method and Path.
// Skip matching requests pass through first, then the next Times matching requests (1 when zero) get the
// fault. Faults are consumed in the order they were injected; a request consumes at most one fault.
type Fault struct {
	// Method is the HTTP method to match; empty matches any method.
	Method string
	// Path is a regular expression matched against the request path (for the GitHub fake, the path with any
	// /api/v3 prefix removed); empty matches any path.
	Path string
	// Skip is the number of matching requests to let through before the fault applies.
	Skip int
	// Times is the number of matching requests that receive the fault; zero means one.
	Times int
	// Status is the HTTP status code of the injected response.
	Status int
	// Header holds extra response headers (e.g. Retry-After).
	Header http.Header
	// Body is the response body; the GitHub fake sends it as application/json.
	Body string
}

// RateLimited returns a GitHub primary rate limit fault: 403 with X-RateLimit-Remaining: 0 and the given reset
// time, and GitHub's "API rate limit exceeded" body. go-github reports it as *github.RateLimitError.
func RateLimited(reset time.Time) Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "5000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	return Fault{
		Status: http.StatusForbidden,
		Header: h,
		Body: `{"message":"API rate limit exceeded for installation. If you reach out to GitHub Support for help, ` +
			`please include the request ID.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`,
	}
}

// SecondaryRateLimited returns a GitHub secondary rate limit fault with Retry-After, as status 403 (what
// go-github reports as *github.AbuseRateLimitError) or 429.
func SecondaryRateLimited(status int, retryAfter time.Duration) Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	return Fault{
		Status: status,
		Header: h,
		Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",` +
			`"documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
	}
}

// TooManyRequests returns a registry-style 429 with Retry-After and a distribution error body.
func TooManyRequests(retryAfter time.Duration) Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	return Fault{
		Status: http.StatusTooManyRequests,
		Header: h,
		Body:   `{"errors":[{"code":"TOOMANYREQUESTS","message":"toomanyrequests: rate limit exceeded"}]}`,
	}
}

// ServerError returns a fault with the given 5xx status and a short body.
func ServerError(status int) Fault {
	return Fault{Status: status, Body: fmt.Sprintf(`{"message":%q}`, http.StatusText(status))}
}

type activeFault struct {
	Fault
	re   *regexp.Regexp
	seen int
	hits int
}

// faultSet holds injected faults; it is safe for concurrent use.
type faultSet struct {
	mu     sync.Mutex
	faults []*activeFault
}

func (s *faultSet) add(f Fault) error {
	af := &activeFault{Fault: f}
	if f.Path != "" {
		re, err := regexp.Compile(f.Path)
		if err != nil {
			return fmt.Errorf("compiling fault path %q: %w", f.Path, err)
		}
		af.re = re
	}
	if af.Times == 0 {
		af.Times = 1
	}
	if af.Status == 0 {
		return fmt.Errorf("fault for %s %q has no status", f.Method, f.Path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, af)
	return nil
}

// take returns the fault to apply to a request with this method and path, consuming it, or nil.
func (s *faultSet) take(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.re != nil && !f.re.MatchString(path) {
			continue
		}
		f.seen++
		if f.seen <= f.Skip {
			continue
		}
		f.hits++
		if f.hits >= f.Times {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		out := f.Fault
		return &out
	}
	return nil
}

// clear drops every injected fault, consumed or not.
func (s *faultSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// pending reports how many injected faults have not been fully consumed.
func (s *faultSet) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

func writeFault(w http.ResponseWriter, f *Fault, contentType string) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}

// statusRecorder captures the status written by a handler.
type statusRecorder struct {
	http.ResponseWriter
	status int
	// onStatus, when set, sees the status before the client does.
	onStatus func(int)
}

func (r *statusRecorder) setStatus(code int) {
	if r.status == 0 {
		r.status = code
		if r.onStatus != nil {
			r.onStatus(code)
		}
	}
}

func (r *statusRecorder) WriteHeader(code int) {
	r.setStatus(code)
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.setStatus(http.StatusOK)
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (git smart HTTP, registry blobs) flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the wrapped writer to http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
