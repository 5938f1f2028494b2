package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/deployment-automator/automator/internal/config"
)

// Timeouts are the deadlines of one outbound HTTP exchange. Every stack built by this project starts
// from Base, so no call can hang on a peer that accepts a connection and never answers.
type Timeouts struct {
	// Connect bounds the TCP connect and, separately, the TLS handshake.
	Connect time.Duration
	// ResponseHeader bounds the wait for response headers once the request is written.
	ResponseHeader time.Duration
	// Request bounds one whole exchange, reading the response body included (one attempt; retries
	// each get their own).
	Request time.Duration
}

// DefaultTimeouts are used where config sets none: generous enough for multi-hundred-megabyte layers
// on a slow link, short enough that a hung peer is noticed within a poll cycle.
var DefaultTimeouts = Timeouts{Connect: 10 * time.Second, ResponseHeader: 30 * time.Second, Request: 5 * time.Minute}

// withDefaults fills zero fields from DefaultTimeouts.
func (t Timeouts) withDefaults() Timeouts {
	if t.Connect <= 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.ResponseHeader <= 0 {
		t.ResponseHeader = DefaultTimeouts.ResponseHeader
	}
	if t.Request <= 0 {
		t.Request = DefaultTimeouts.Request
	}
	return t
}

// Base returns the bottom of every stack: a clone of http.DefaultTransport (proxy from the
// environment, HTTP/2, keep-alives) with t's deadlines (zero fields take DefaultTimeouts).
func Base(t Timeouts) http.RoundTripper {
	t = t.withDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = t.Connect
	tr.ResponseHeaderTimeout = t.ResponseHeader
	return WithDeadline(tr, t.Request)
}

// WithDeadline bounds each exchange through next, body included, to d.
func WithDeadline(next http.RoundTripper, d time.Duration) http.RoundTripper {
	return &deadlineTransport{next: next, d: d}
}

type deadlineTransport struct {
	next http.RoundTripper
	d    time.Duration
}

func (t *deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.d)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		if ctx.Err() != nil && req.Context().Err() == nil {
			return nil, fmt.Errorf("%s %s://%s%s: no complete answer within %s: %w", req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path, t.d, err)
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases the exchange's deadline when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Observe calls f after every exchange through next (each retry attempt is one), with the response
// or the error: the hook for request metrics. f must not read or close the body.
func Observe(next http.RoundTripper, f func(req *http.Request, resp *http.Response, err error)) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		f(req, resp, err)
		return resp, err
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// ConfigTimeouts reads config's network section (Go durations; empty keeps the default).
func ConfigTimeouts(n config.Network) (Timeouts, error) {
	var t Timeouts
	for _, f := range []struct {
		key string
		v   string
		d   *time.Duration
	}{{"network.connectTimeout", n.ConnectTimeout, &t.Connect}, {"network.responseHeaderTimeout", n.ResponseHeaderTimeout, &t.ResponseHeader},
		{"network.requestTimeout", n.RequestTimeout, &t.Request}} {
		if f.v == "" {
			continue
		}
		d, err := time.ParseDuration(f.v)
		if err != nil || d <= 0 {
			return Timeouts{}, fmt.Errorf("%s: invalid duration %q", f.key, f.v)
		}
		*f.d = d
	}
	return t.withDefaults(), nil
}
