package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// Lander lands updates in one target — explicit ones, or with none what the
// target's upstream runs now; promote.Promoter satisfies it.
type Lander interface {
	Promote(ctx context.Context, t *promote.Target, explicit []gitops.Update) (*gitops.Result, error)
	// PromoteUpstream lands in t (which has an upstream) those of published
	// whose digests its upstream runs now, under published's tags.
	PromoteUpstream(ctx context.Context, t *promote.Target, published []gitops.Update) (*gitops.Result, error)
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
	Promoter Lander
	Logger   *zap.Logger
	// Published says the run published its images for every target, as a
	// release tag does: an environment with promoteFrom then receives those
	// of the run's images its upstream runs now, under the run's tags (the
	// release's name for the digest staging already runs), instead of
	// everything its upstream runs.
	Published bool
}

// Run writes back into envs one at a time (API calls grow with the number of
// environments, not of services) and reports every environment's outcome; a
// failing environment does not stop the others.
func (w *WriteStage) Run(ctx context.Context, targets []*promote.Target, updates []gitops.Update) []EnvOutcome {
	log := w.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var out []EnvOutcome
	start := time.Now()
	for i, t := range targets {
		// "progress" (this environment's place among the targets) and the
		// elapsed time show a person a long run advancing.
		l := log.With(zap.String("environment", t.Name()), zap.String("progress", fmt.Sprintf("%d/%d", i+1, len(targets))))
		var (
			res *gitops.Result
			err error
		)
		switch {
		case t.From != nil && w.Published && len(updates) == 0:
			l.Info("nothing to write: the run published no image")
			continue
		case t.From != nil && w.Published:
			l.Info("promoting the run's images that the upstream environment runs", zap.String("from", t.From.Name()), zap.Int("images", len(updates)))
			res, err = w.Promoter.PromoteUpstream(ctx, t, updates)
		case t.From != nil:
			l.Info("promoting what the upstream environment runs", zap.String("from", t.From.Name()))
			res, err = w.Promoter.Promote(ctx, t, nil)
		case len(updates) == 0:
			l.Info("nothing to write: no image was pushed")
			continue
		default:
			l.Info("writing back", zap.Int("images", len(updates)))
			res, err = w.Promoter.Promote(ctx, t, updates)
		}
		// A failure is not logged here: it is returned in the outcome, and
		// the caller reports it once (summary, EnvError at exit).
		if err == nil && res != nil {
			l.Info("write-back done", zap.Bool("changed", res.Changed()), zap.Int("updates", len(res.Updates)), zap.Int("files", len(res.Files)),
				zap.String("commit", res.Commit), zap.String("pr", prURL(res)), zap.Duration("elapsed", time.Since(start).Round(time.Millisecond)))
		}
		out = append(out, EnvOutcome{Env: t.Name(), Result: res, Err: err})
	}
	return out
}

func prURL(r *gitops.Result) string {
	if r.PR == nil {
		return ""
	}
	return r.PR.URL
}

// EnvError summarises failed environments. The CLI exits 3 when every
// failure is a gate block (OnlyBlocked), else 1.
type EnvError struct{ Failed []EnvOutcome }

func (e *EnvError) Error() string {
	var parts []string
	for _, o := range e.Failed {
		parts = append(parts, fmt.Sprintf("%s: %v", o.Env, o.Err))
	}
	return "write-back failed for " + strings.Join(parts, "; ")
}

// OnlyBlocked reports whether the gate is the only reason of every failure.
func (e *EnvError) OnlyBlocked() bool {
	for _, o := range e.Failed {
		if !errors.Is(o.Err, gate.ErrBlocked) {
			return false
		}
	}
	return true
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

// DeliverResults writes images read from build result files (ReadResults)
// back into targets through p. The scan reports the images carry are
// remembered by g first, so the write-back's gate does not scan again an
// image a build job already scanned.
func DeliverResults(ctx context.Context, g *Gate, p Lander, targets []*promote.Target, images []*Image, log *zap.Logger) *Delivered {
	for _, im := range images {
		if im.Report != nil {
			g.Remember(im.Report, im.Digest)
		}
	}
	w := &WriteStage{Promoter: p, Logger: log}
	return &Delivered{Images: images, Envs: w.Run(ctx, targets, Updates(images, true))}
}
