package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RemoteOptions are the go-containerregistry options of one operation
// (this client's keychain, transport stack, retries and rate limits), for
// packages that read and write registry artifacts other than images, such
// as internal/evidence's signatures and attestations: their requests share
// this client's host limits, auth and metrics.
func (c *Client) RemoteOptions(ctx context.Context) []remote.Option {
	return append(c.baseOptions(), remote.WithContext(ctx))
}
