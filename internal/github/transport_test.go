package github

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/transport"
)

// scripted answers with the given responses in order, recording bodies.
type scripted struct {
	answers []func(w http.ResponseWriter)
	calls   atomic.Int32
	bodies  []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.calls.Add(1)) - 1
	b, _ := io.ReadAll(r.Body)
	s.bodies = append(s.bodies, string(b))
	if n >= len(s.answers) {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.answers[n](w)
}

func status(code int, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"` + http.StatusText(code) + `"}`))
	}
}

func secondary(code int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit."}`))
	}
}

func TestRetryTransport(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	policy := RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: 90 * time.Second}
	tests := []struct {
		name       string
		answers    []func(w http.ResponseWriter)
		wantStatus int
		wantCalls  int
		wantWaits  []time.Duration // exact waits; nil means "check count only"
		waitCount  int
	}{
		{"ok first time", nil, 200, 1, []time.Duration{}, 0},
		{"502 then ok", []func(http.ResponseWriter){status(502)}, 200, 2, nil, 1},
		{"5xx exhausts attempts", []func(http.ResponseWriter){status(502), status(503), status(500), status(500)}, 500, 3, nil, 2},
		{"secondary 403 with Retry-After", []func(http.ResponseWriter){status(403, "Retry-After", "7")}, 200, 2, []time.Duration{7 * time.Second}, 1},
		{"429 with Retry-After", []func(http.ResponseWriter){status(429, "Retry-After", "2")}, 200, 2, []time.Duration{2 * time.Second}, 1},
		{"primary limit waits for reset", []func(http.ResponseWriter){status(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Unix()+10, 10))}, 200, 2, []time.Duration{11 * time.Second}, 1},
		{"secondary 403 without header waits a minute", []func(http.ResponseWriter){secondary(403)}, 200, 2, []time.Duration{}, 1},
		{"reset too far away is not waited for", []func(http.ResponseWriter){status(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Unix()+3600, 10))}, 403, 1, []time.Duration{}, 0},
		{"plain 403 is final", []func(http.ResponseWriter){status(403)}, 403, 1, []time.Duration{}, 0},
		{"404 is final", []func(http.ResponseWriter){status(404)}, 404, 1, []time.Duration{}, 0},
		{"422 is final", []func(http.ResponseWriter){status(422)}, 422, 1, []time.Duration{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &scripted{answers: tt.answers}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			var waits []time.Duration
			rt, err := newRetryTransport(http.DefaultTransport, policy, nopLogger(), transport.WithClock(func() time.Time { return now }),
				transport.WithSleep(func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/repos/o/r/git/trees", strings.NewReader(`{"tree":[]}`))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := int(srv.calls.Load()); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			for i, b := range srv.bodies {
				if b != `{"tree":[]}` {
					t.Errorf("attempt %d body = %q, want the original body replayed", i+1, b)
				}
			}
			if len(waits) != tt.waitCount {
				t.Errorf("waits = %v, want %d", waits, tt.waitCount)
			}
			if len(tt.wantWaits) > 0 {
				for i, w := range tt.wantWaits {
					if waits[i] != w {
						t.Errorf("wait %d = %v, want %v", i, waits[i], w)
					}
				}
			}
			if tt.name == "secondary 403 without header waits a minute" && waits[0] < time.Minute {
				t.Errorf("wait = %v, want at least a minute", waits[0])
			}
		})
	}
}

func TestRetryTransportStopsOnCancel(t *testing.T) {
	srv := &scripted{answers: []func(http.ResponseWriter){status(502), status(502)}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := newRetryTransport(http.DefaultTransport, DefaultRetryPolicy, nopLogger(),
		transport.WithSleep(func(ctx context.Context, d time.Duration) error { cancel(); return transport.Sleep(ctx, d) }))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("want an error after cancellation")
	}
	if got := srv.calls.Load(); got != 1 {
		t.Errorf("calls = %d, want 1", got)
	}
}
