package promote

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// DigestResolver answers which digest a reference has in its registry;
// registry.Client satisfies it.
type DigestResolver interface {
	Digest(ctx context.Context, ref string) (v1.Hash, error)
}

// Reverify re-checks an update that a pull request branch carries over from
// an earlier run before the writer writes it again under the bot's identity
// (gitops.Verifier): the digest must still exist in its registry and pass
// the environment's gate now. Anything it cannot check is refused, never
// trusted.
type Reverify struct {
	Targets  Targets
	Gate     Gate
	Registry DigestResolver
}

var _ gitops.Verifier = Reverify{}

// Verify implements gitops.Verifier.
func (v Reverify) Verify(ctx context.Context, env config.Environment, u gitops.Update) error {
	if u.Digest == "" {
		return fmt.Errorf("%s: carried update names no digest", u.Service)
	}
	ref := u.Repository + "@" + u.Digest
	ts, err := v.Targets.Lookup(env.Name)
	if err != nil {
		return fmt.Errorf("re-verifying %s for %s: %w", ref, env.Name, err)
	}
	if v.Registry == nil {
		return fmt.Errorf("re-verifying %s: no registry client", ref)
	}
	got, err := v.Registry.Digest(ctx, ref)
	if err != nil {
		return fmt.Errorf("re-verifying %s: %w", ref, err)
	}
	if got.String() != u.Digest {
		return fmt.Errorf("re-verifying %s: the registry answers %s", ref, got)
	}
	if v.Gate == nil {
		return nil
	}
	_, allowed, err := v.Gate.Check(ctx, ts[0], ref)
	if err != nil {
		return fmt.Errorf("re-verifying %s: %w", ref, err)
	}
	if !allowed {
		return fmt.Errorf("re-verifying %s: the %s gate blocks it now", ref, env.Name)
	}
	return nil
}
