package harness_test

import (
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// staticKeychain resolves every registry to one fixed username and password.
type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
}

func nowMinus(sec int) time.Time { return time.Now().Add(-time.Duration(sec) * time.Second) }

func nowPlus(sec int) time.Time { return time.Now().Add(time.Duration(sec) * time.Second) }
