package transport

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// scripted answers requests with a fixed sequence of responses and records the bodies it received.
type scripted struct {
	responses []*http.Response
	bodies    []string
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
	}
	s.bodies = append(s.bodies, string(b))
	r := s.responses[0]
	if len(s.responses) > 1 {
		s.responses = s.responses[1:]
	}
	return r, nil
}

func resp(code int, hdr ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("x"))}
}

func TestRetryTransport(t *testing.T) {
	for _, tc := range []struct {
		name      string
		responses []*http.Response
		body      func() *http.Request
		wantCode  int
		wantWaits []time.Duration
		wantSent  int
	}{
		{"429 with Retry-After then success", []*http.Response{resp(429, "Retry-After", "3"), resp(200)}, nil, 200, []time.Duration{3 * time.Second}, 2},
		{"5xx back-off doubles", []*http.Response{resp(503), resp(502), resp(500), resp(201)}, nil, 201, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, 4},
		{"Retry-After capped", []*http.Response{resp(429, "Retry-After", "3600"), resp(200)}, nil, 200, []time.Duration{10 * time.Second}, 2},
		{"gives up after attempts", []*http.Response{resp(503)}, nil, 503, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}, 5},
		{"4xx not retried", []*http.Response{resp(404), resp(200)}, nil, 404, nil, 1},
		{"streamed body not retried", []*http.Response{resp(503), resp(200)}, func() *http.Request {
			r, _ := http.NewRequest(http.MethodPatch, "http://r.example/v2/a/blobs/uploads/1", io.NopCloser(strings.NewReader("data")))
			return r
		}, 503, nil, 1},
		{"replayable body re-sent", []*http.Response{resp(500), resp(201)}, func() *http.Request {
			r, _ := http.NewRequest(http.MethodPut, "http://r.example/v2/a/manifests/v1", strings.NewReader("manifest"))
			return r
		}, 201, []time.Duration{time.Second}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{responses: tc.responses}
			var waits []time.Duration
			rt, err := NewRetry(s, WithBackoff(time.Second, 10*time.Second), WithoutJitter(), WithCapLongWaits(), WithSleep(func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://r.example/v2/", nil)
			if tc.body != nil {
				req = tc.body()
			}
			got, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if got.StatusCode != tc.wantCode {
				t.Errorf("status = %d, want %d", got.StatusCode, tc.wantCode)
			}
			if len(s.bodies) != tc.wantSent {
				t.Errorf("sent %d requests, want %d", len(s.bodies), tc.wantSent)
			}
			if len(waits) != len(tc.wantWaits) {
				t.Fatalf("waits = %v, want %v", waits, tc.wantWaits)
			}
			for i := range waits {
				if waits[i] != tc.wantWaits[i] {
					t.Errorf("wait[%d] = %v, want %v", i, waits[i], tc.wantWaits[i])
				}
			}
			if tc.body != nil && tc.wantSent > 1 {
				for i, b := range s.bodies {
					if b != s.bodies[0] || b == "" {
						t.Errorf("body of attempt %d = %q, want %q", i+1, b, s.bodies[0])
					}
				}
			}
		})
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	s := &scripted{responses: []*http.Response{resp(503)}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://r.example/v2/", nil)
	rt, err := NewRetry(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("retry ignored a cancelled context")
	}
	if len(s.bodies) != 1 {
		t.Errorf("sent %d requests after cancel, want 1", len(s.bodies))
	}
}
