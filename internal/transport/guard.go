package transport

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// sensitive are the headers that carry credentials.
var sensitive = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// NoForeignCredentials removes credentials from a request that follows a redirect to another
// host[:port] than the request that started the chain. Go's client already drops Authorization on
// such a redirect, but only for headers set on the original request, and it treats another port of
// the same name as the same host; transports above this one (go-github's token, GitHub App
// installation tokens, registry auth) set credentials on every hop. Placing this guard under them
// makes "credentials only reach the host they were given for" hold whoever set them.
func NoForeignCredentials(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		origin := originHost(req)
		if origin == "" || strings.EqualFold(origin, req.URL.Host) {
			return next.RoundTrip(req)
		}
		has := false
		for _, h := range sensitive {
			has = has || req.Header.Get(h) != ""
		}
		if !has {
			return next.RoundTrip(req)
		}
		r := req.Clone(req.Context())
		for _, h := range sensitive {
			r.Header.Del(h)
		}
		return next.RoundTrip(r)
	})
}

// originHost is the host of the first request of req's redirect chain, "" when req is no redirect.
func originHost(req *http.Request) string {
	host := ""
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		host = r.Response.Request.URL.Host
	}
	return host
}

// PlainHTTPError is returned for a plain-HTTP request to a host not allowed to receive one.
type PlainHTTPError struct{ Host string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: mark the host insecure (registries[].insecure) to allow it", e.Host)
}

// RequireTLS refuses plain-HTTP requests unless insecure(host) is true or host is a loopback address
// ("localhost", 127.0.0.0/8, ::1), where nothing crosses the network. It stops the silent https→http
// fallback go-containerregistry makes for private-range addresses and *.localhost names: a refused
// attempt is a *PlainHTTPError. insecure may be nil.
func RequireTLS(next http.RoundTripper, insecure func(host string) bool) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Scheme == "http" && !IsLoopback(req.URL.Host) && (insecure == nil || !insecure(req.URL.Host)) {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, &PlainHTTPError{Host: req.URL.Host}
		}
		return next.RoundTrip(req)
	})
}

// IsLoopback reports whether host[:port] is "localhost" or a loopback IP literal. Names under
// .localhost are not trusted: they are resolved like any other name by many resolvers.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
