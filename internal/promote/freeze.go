package promote

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// frozen is the freeze window t is in now (nil: none, or overridden) and
// the trailers an override adds to the commit.
func (p *Promoter) frozen(t *Target) (*gitops.Freeze, []string) {
	per, ok := t.Freeze.At(p.now())
	if !ok {
		return nil, nil
	}
	if p.Override != "" {
		p.logger().Warn("overriding a freeze window", zap.String("environment", t.Name()), zap.Time("until", per.Until), zap.String("override", p.Override))
		return nil, []string{"Automator-Freeze-Override: " + p.Override}
	}
	return &gitops.Freeze{Until: per.Until, Reason: per.Window.Reason}, nil
}

// Since answers since when an environment has pinned, without
// interruption, what it pins now for a service (from its file's history);
// *holds.Checker satisfies it.
type Since interface {
	Since(ctx context.Context, env config.Environment, service, repository string) (since time.Time, ok bool, err error)
}

// soaked splits the candidates taken from t's upstream into those the
// upstream has run for at least t.Soak and those still soaking (listed as
// held, with the time they become eligible). Without a soak time, an
// upstream or a Since, every candidate passes.
func (p *Promoter) soaked(ctx context.Context, t *Target, candidates []gitops.Update) ([]gitops.Update, []gitops.Held, error) {
	if t.Soak <= 0 || t.From == nil || p.Since == nil {
		return candidates, nil, nil
	}
	now := p.now()
	var ready []gitops.Update
	var soaking []gitops.Held
	for _, u := range candidates {
		if u.PromotedFrom == "" { // explicit images (--set) are a human's choice: no soak
			ready = append(ready, u)
			continue
		}
		since, ok, err := p.Since.Since(ctx, t.From.Env, u.Service, u.Repository)
		if err != nil {
			return nil, nil, fmt.Errorf("environment %q: reading since when %q runs %s: %w", t.Name(), t.From.Name(), u.Service, err)
		}
		if ok && now.Sub(since) >= t.Soak {
			ready = append(ready, u)
			continue
		}
		why := fmt.Sprintf("soaking: %s has not run it for %s yet", t.From.Name(), t.Soak)
		if ok {
			why = fmt.Sprintf("soaking: %s runs it since %s; eligible at %s (soak %s)", t.From.Name(),
				since.UTC().Format(time.RFC3339), since.Add(t.Soak).UTC().Format(time.RFC3339), t.Soak)
		}
		p.logger().Info("not proposing a digest the upstream has not run long enough", zap.String("environment", t.Name()),
			zap.String("service", u.Service), zap.String("digest", u.Digest), zap.String("reason", why))
		soaking = append(soaking, gitops.Held{Service: u.Service, Reason: why})
	}
	return ready, soaking, nil
}
