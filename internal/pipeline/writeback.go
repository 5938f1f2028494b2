package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

// Promoter lands updates in one environment; gitops.Promoter satisfies it.
type Promoter interface {
	Promote(ctx context.Context, env config.Environment, from *config.Environment, explicit []gitops.Update) (*gitops.Result, error)
}

// EnvOutcome is what happened to one environment.
type EnvOutcome struct {
	Env    string
	Result *gitops.Result
	Err    error
}

// WriteStage writes images back into every target environment: directly
// built images for ordinary environments, and for an environment with
// promoteFrom exactly what its upstream runs now.
type WriteStage struct {
	Promoter Promoter
	Config   *config.Config
	Logger   *zap.Logger
}

// Run writes back into envs one at a time (API calls grow with the number of
// environments, not of services) and reports every environment's outcome; a
// failing environment does not stop the others.
func (w *WriteStage) Run(ctx context.Context, envs []config.Environment, updates []gitops.Update) []EnvOutcome {
	log := w.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var out []EnvOutcome
	for _, env := range envs {
		l := log.With(zap.String("environment", env.Name))
		var (
			res *gitops.Result
			err error
		)
		switch {
		case env.PromoteFrom != "":
			from, _ := w.Config.Environment(env.PromoteFrom)
			l.Info("promoting what the upstream environment runs", zap.String("from", env.PromoteFrom))
			res, err = w.Promoter.Promote(ctx, env, from, nil)
		case len(updates) == 0:
			l.Info("nothing to write: no image was pushed")
			continue
		default:
			l.Info("writing back", zap.Int("images", len(updates)))
			res, err = w.Promoter.Promote(ctx, env, nil, updates)
		}
		// A failure is not logged here: it is returned in the outcome, and
		// the caller reports it once (summary, EnvError at exit).
		if err == nil && res != nil {
			l.Info("write-back done", zap.Bool("changed", res.Changed()), zap.String("commit", res.Commit), zap.String("pr", prURL(res)))
		}
		out = append(out, EnvOutcome{Env: env.Name, Result: res, Err: err})
	}
	return out
}

func prURL(r *gitops.Result) string {
	if r.PR == nil {
		return ""
	}
	return r.PR.URL
}

// EnvError summarises failed environments. Its exit code is 3 when every
// failure is a gate block, else 1.
type EnvError struct{ Failed []EnvOutcome }

func (e *EnvError) Error() string {
	var parts []string
	for _, o := range e.Failed {
		parts = append(parts, fmt.Sprintf("%s: %v", o.Env, o.Err))
	}
	return "write-back failed for " + strings.Join(parts, "; ")
}

// ExitCode is 3 when the gate is the only reason, else 1.
func (e *EnvError) ExitCode() int {
	for _, o := range e.Failed {
		var b *gitops.BlockedError
		if !errors.As(o.Err, &b) {
			return 1
		}
	}
	return 3
}

// Err returns nil when every environment succeeded, else an *EnvError.
func Err(outcomes []EnvOutcome) error {
	var failed []EnvOutcome
	for _, o := range outcomes {
		if o.Err != nil {
			failed = append(failed, o)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &EnvError{Failed: failed}
}
