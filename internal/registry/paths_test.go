package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/time/rate"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/transport"
)

// router stands in for DNS and TLS: requests for a fake public host go to the httptest server
// registered for it. Hosts in httpOnly answer no https (a plain-HTTP-only registry); every other host
// answers both schemes. It records the hosts and schemes asked for.
type router struct {
	mu       sync.Mutex
	to       map[string]string // requested host → httptest host
	httpOnly map[string]bool
	asked    []string // "scheme://host"
}

func (r *router) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.asked = append(r.asked, req.URL.Scheme+"://"+req.URL.Host)
	to, ok := r.to[req.URL.Host]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no route to %s", req.URL.Host)
	}
	if req.URL.Scheme == "https" && r.httpOnly[req.URL.Host] {
		return nil, fmt.Errorf("dial %s: tls: first record does not look like a TLS handshake", req.URL.Host)
	}
	// Keep the Host header, so that upload Locations point back at the fake host, and hand back
	// the response as if from it (go-containerregistry reads the scheme from resp.Request).
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", to, req.URL.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

func (r *router) schemes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.asked...)
}

// everyPath runs each registry path of the client against repo: build push, copy (re-tag), the
// watcher's tag listing, HEAD and manifest fetch, and the scanner's image open.
func everyPath(ctx context.Context, t *testing.T, c *Client, repo string) map[string]error {
	t.Helper()
	img, _ := random.Image(256, 1)
	dir, digest := writeLayout(t, img)
	errs := map[string]error{}
	_, errs["push"] = c.Push(ctx, dir, digest, []string{repo}, []string{"1.0.0"})
	_, errs["copy"] = c.Copy(ctx, repo+":1.0.0", repo+":1.0.1", false)
	r, err := c.ParseRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	_, _, errs["watch tags"] = c.Tags(ctx, r, 100)
	_, errs["watch head"] = c.Head(ctx, r.Tag("1.0.0"))
	_, errs["watch describe"] = c.Describe(ctx, r.Tag("1.0.0"))
	_, errs["scan open"] = c.Image(ctx, repo+"@"+digest.String())
	return errs
}

// TestConfigAppliesToEveryPath: registries[].host docker.io credentials, GITHUB_TOKEN for ghcr.io,
// insecure and rps are settings of the one client, so push, copy, the watcher's requests and the
// scanner's pulls all get them, whatever spelling of Docker Hub the config or the image uses.
func TestConfigAppliesToEveryPath(t *testing.T) {
	hub, hubHost := newRegistry(t)
	hub.user, hub.pass = "hub-user", "hub-pass"
	ghcr, ghcrHost := newRegistry(t)
	ghcr.user, ghcr.pass = "octocat", "ghs_token"
	_, localHost := newRegistry(t)
	rt := &router{to: map[string]string{"index.docker.io": hubHost, "ghcr.io": ghcrHost,
		"10.1.2.3:5000": localHost, "10.9.9.9:5000": localHost}, httpOnly: map[string]bool{"10.1.2.3:5000": true, "10.9.9.9:5000": true}}
	env := map[string]string{"HUB_PASS": "hub-pass", "GITHUB_TOKEN": "ghs_token", "GITHUB_ACTOR": "octocat"}
	cfg := &config.Config{Registries: []config.Registry{
		{Host: "docker.io", Username: "hub-user", PasswordEnv: "HUB_PASS", RPS: 50},
		{Host: "10.1.2.3:5000", Insecure: true},
	}}
	ctx := context.Background()
	c, err := New(WithConfig(cfg, func(k string) string { return env[k] }), WithTransport(rt), WithRetry(transport.WithSleep(noSleep)))
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"docker.io/acme/short", "index.docker.io/acme/index", "registry-1.docker.io/acme/registry-1"} {
		rt.to["registry-1.docker.io"] = hubHost
		for path, err := range everyPath(ctx, t, c, repo) {
			if err != nil {
				t.Errorf("%s on %s with registries[].host docker.io credentials: %v", path, repo, err)
			}
		}
	}
	for path, err := range everyPath(ctx, t, c, "ghcr.io/acme/app") {
		if err != nil {
			t.Errorf("%s on ghcr.io with the GITHUB_TOKEN fallback: %v", path, err)
		}
	}
	for path, err := range everyPath(ctx, t, c, "10.1.2.3:5000/acme/app") {
		if err != nil {
			t.Errorf("%s on an insecure plain-HTTP registry: %v", path, err)
		}
	}
	// Not marked insecure: go-containerregistry would fall back to http for a private-range
	// address; no path may.
	for path, err := range everyPath(ctx, t, c, "10.9.9.9:5000/acme/app") {
		var plain *transport.PlainHTTPError
		if !errors.As(err, &plain) {
			t.Errorf("%s on a registry not marked insecure: error %v, want *transport.PlainHTTPError", path, err)
		}
	}
	for _, a := range rt.schemes() {
		if a == "http://10.9.9.9:5000" {
			t.Errorf("a plain-HTTP request reached %s", a)
		}
	}
	// rps is keyed by the normalised host: every spelling of Docker Hub shares the configured bucket.
	for _, host := range []string{"index.docker.io", "registry-1.docker.io", "docker.io"} {
		if got := c.limits.Rate(host); got != 50 {
			t.Errorf("rate limit of %s = %v, want registries[].rps 50", host, got)
		}
	}
	if got := c.limits.Rate("ghcr.io"); got != rate.Inf {
		t.Errorf("rate limit of ghcr.io = %v, want none", got)
	}

	// Control: without the config and the token every path is refused, so the successes above are
	// the configured credentials at work.
	bare, err := New(WithTransport(rt), WithRetry(transport.WithSleep(noSleep)))
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"docker.io/acme/app", "ghcr.io/acme/app"} {
		for path, err := range everyPath(ctx, t, bare, repo) {
			if err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "UNAUTHORIZED") {
				t.Errorf("%s on %s without credentials: %v, want 401", path, repo, err)
			}
		}
	}
}
