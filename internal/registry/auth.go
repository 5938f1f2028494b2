package registry

import (
	"github.com/google/go-containerregistry/pkg/authn"
)

// GHCR is GitHub's container registry, for which GITHUB_TOKEN is used when nothing else authenticates.
const GHCR = "ghcr.io"

// staticKeychain serves credentials read from the environment at start-up, per registry host. It never
// prints them: authn.AuthConfig values only travel to go-containerregistry's auth transport.
type staticKeychain map[string]authn.AuthConfig

var _ authn.Keychain = staticKeychain(nil)

// Resolve implements authn.Keychain.
func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k[r.RegistryStr()]; ok {
		return authn.FromConfig(c), nil
	}
	return authn.Anonymous, nil
}
