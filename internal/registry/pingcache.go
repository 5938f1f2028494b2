package registry

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// maxPingBody bounds what is read of a ping answer's body before it is dropped: registries answer
// /v2/ with "{}" or nothing.
const maxPingBody = 64 << 10

// pingCache answers a registry's version check (GET /v2/ without credentials, which
// go-containerregistry sends before every new token or scope: once per puller repository, per pusher
// repository and per scope refresh for a mount) from the first answer per scheme and host, so a
// process pings each registry once. Only a 200 or a 401 challenge is kept: it names the
// authentication scheme, realm and service, which do not change while a process runs; any other
// answer or error goes through again next time. Written here because go-containerregistry builds its
// authenticating transports internally and offers no way to hand it a ping result.
type pingCache struct {
	next http.RoundTripper

	mu       sync.Mutex
	answers  map[string]pingAnswer    // "scheme://host" → first 200 or 401
	inflight map[string]chan struct{} // closed when the ping in flight for a key ends
}

type pingAnswer struct {
	status int
	header http.Header
}

func newPingCache(next http.RoundTripper) *pingCache {
	return &pingCache{next: next, answers: map[string]pingAnswer{}, inflight: map[string]chan struct{}{}}
}

func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.Path != "/v2/" || req.Header.Get("Authorization") != "" {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + strings.ToLower(req.URL.Host)
	p.mu.Lock()
	for {
		a, ok := p.answers[key]
		_, plain := p.answers["http://"+strings.ToLower(req.URL.Host)]
		switch {
		case ok:
			p.mu.Unlock()
			return a.response(req), nil
		case plain && req.URL.Scheme == "https":
			p.mu.Unlock()
			// go-containerregistry races https against http for registries it may reach in plain
			// HTTP; once this host answered in plain HTTP, the https attempt would only fail again.
			return nil, fmt.Errorf("pinging %s: the registry answered in plain HTTP before", req.URL.Host)
		}
		busy, waiting := p.inflight[key]
		if !waiting {
			break
		}
		// Requests to one registry that start together (a copy reads the source while it checks
		// the destination) share the first one's ping.
		p.mu.Unlock()
		select {
		case <-busy:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		p.mu.Lock()
	}
	done := make(chan struct{})
	p.inflight[key] = done
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.inflight, key)
		p.mu.Unlock()
		close(done)
	}()
	resp, err := p.next.RoundTrip(req)
	if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized) {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPingBody))
	_ = resp.Body.Close()
	a := pingAnswer{status: resp.StatusCode, header: resp.Header.Clone()}
	p.mu.Lock()
	p.answers[key] = a
	p.mu.Unlock()
	return a.response(req), nil
}

func (a pingAnswer) response(req *http.Request) *http.Response {
	return &http.Response{
		Status: fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)), StatusCode: a.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: http.NoBody, ContentLength: 0, Request: req,
	}
}
