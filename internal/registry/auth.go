package registry

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// GHCR is GitHub's container registry, for which GITHUB_TOKEN is used when nothing else authenticates.
const GHCR = "ghcr.io"

// NormalizeHost is the one place registry host names are made comparable: it returns
// go-containerregistry's name for host[:port] (lower case; docker.io, index.docker.io and
// registry-1.docker.io are all Docker Hub, "index.docker.io"). Credentials, rate limits and the
// insecure setting are all keyed by it, so that a registries[] entry applies to every spelling of its
// host and to every path (push, copy, watcher tag listing, scanner pulls).
func NormalizeHost(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "/"))
	if reg, err := name.NewRegistry(h, name.WeakValidation); err == nil {
		h = reg.RegistryStr()
	}
	switch h {
	case "docker.io", "registry-1.docker.io", name.DefaultRegistry:
		return name.DefaultRegistry
	}
	return h
}

// staticKeychain serves credentials read from the environment at start-up, per normalised registry
// host. It never prints them: authn.AuthConfig values only travel to go-containerregistry's auth
// transport.
type staticKeychain map[string]authn.AuthConfig

var _ authn.Keychain = staticKeychain(nil)

// Resolve implements authn.Keychain.
func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k[NormalizeHost(r.RegistryStr())]; ok {
		return authn.FromConfig(c), nil
	}
	return authn.Anonymous, nil
}

// hostSet is a set of normalised registry hosts.
type hostSet map[string]bool

func (s hostSet) has(host string) bool { return s[NormalizeHost(host)] }
