package promote

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/deployment-automator/automator/internal/gitops"
)

// ServiceError names services a promotion was asked for that the upstream
// environment does not pin.
type ServiceError struct {
	Env     string
	Missing []string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("environment %q pins no image for %s", e.Env, strings.Join(e.Missing, ", "))
}

// PromoteServices is Promote from t's upstream limited to the named
// services (every service when none are named): what `/automator promote
// prod cart` asks for. A name the upstream does not pin is a *ServiceError
// and nothing is promoted.
func (p *Promoter) PromoteServices(ctx context.Context, t *Target, services []string) (*gitops.Result, error) {
	if len(services) == 0 {
		return p.Promote(ctx, t, nil)
	}
	all, err := p.upstream(ctx, t)
	if err != nil {
		return nil, err
	}
	var picked []gitops.Update
	var missing []string
	for _, s := range services {
		i := slices.IndexFunc(all, func(u gitops.Update) bool { return u.Service == s })
		if i < 0 {
			missing = append(missing, s)
			continue
		}
		picked = append(picked, all[i])
	}
	if len(missing) > 0 {
		return nil, &ServiceError{Env: t.From.Name(), Missing: missing}
	}
	return p.Promote(ctx, t, picked)
}
