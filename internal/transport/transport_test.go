package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999", maxWait, true},
	} {
		got, ok := RetryAfter(http.Header{"Retry-After": {tc.v}}, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-5", "1e9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := RetryAfter(http.Header{"Retry-After": {v}}, time.Now())
		if d < 0 || d > maxWait || (!ok && d != 0) {
			t.Errorf("RetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

// A peer that accepts the connection and never answers, or stalls in the body, is cut off by the
// deadlines of Base instead of holding the caller forever.
func TestBaseDeadlines(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	stalling := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalling.Close()
	c := &http.Client{Transport: Base(Timeouts{ResponseHeader: 200 * time.Millisecond, Request: 400 * time.Millisecond})}
	start := time.Now()
	if _, err := c.Get(silent.URL); err == nil {
		t.Error("a server that never answers: no error")
	}
	resp, err := c.Get(stalling.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err == nil {
		t.Error("a body that stalls: read without error")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("deadlines took %s to act", took)
	}
}

func TestRequireTLS(t *testing.T) {
	var sent []string
	next := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String())
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	rt := RequireTLS(next, func(h string) bool { return h == "registry.internal:5000" })
	for _, tc := range []struct {
		url     string
		refused bool
	}{
		{"https://10.1.2.3/v2/", false},
		{"http://10.1.2.3/v2/", true},
		{"http://192.168.1.5:5000/v2/", true},
		{"http://registry.localhost/v2/", true},
		{"http://registry.internal:5000/v2/", false},
		{"http://127.0.0.1:5000/v2/", false},
		{"http://localhost:5000/v2/", false},
		{"http://[::1]:5000/v2/", false},
	} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, tc.url, nil)
		_, err := rt.RoundTrip(req)
		var plain *PlainHTTPError
		if got := errors.As(err, &plain); got != tc.refused {
			t.Errorf("%s: refused %v (%v), want %v", tc.url, got, err, tc.refused)
		}
	}
	if len(sent) != 5 {
		t.Errorf("%d requests passed, want 5: %v", len(sent), sent)
	}
}

// Credentials set by any layer above the guard reach only the host the redirect chain started at.
func TestNoForeignCredentials(t *testing.T) {
	var got []string
	next := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.Host+" "+r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})
	rt := NoForeignCredentials(next)
	first, _ := http.NewRequest(http.MethodGet, "https://api.example:443/a", nil)
	first.Header.Set("Authorization", "token t")
	hop := func(to string, prev *http.Request) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, to, nil)
		r.Header.Set("Authorization", "token t")
		r.Response = &http.Response{Request: prev}
		return r
	}
	second := hop("https://api.example:8443/b", first)
	third := hop("https://api.example:443/c", second)
	for _, r := range []*http.Request{first, second, third} {
		if _, err := rt.RoundTrip(r); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"api.example:443 token t", "api.example:8443 ", "api.example:443 token t"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("hop %d: %q, want %q", i, got[i], want[i])
		}
	}
}
