package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/promote"
)

// HoldReader is what the hold annotator reads: the holds that stop
// automation (explicit ones and those implied by reverts) and since when an
// environment runs a value. *holds.Checker implements it, so status shows
// exactly what promotion would decide.
type HoldReader interface {
	Held(ctx context.Context, env config.Environment, images map[string]string) ([]holds.Hold, error)
	Since(ctx context.Context, env config.Environment, service, repository string) (since time.Time, ok bool, err error)
}

// Holds is the Annotator that fills Row.Hold with what stops automation
// from promoting a row now: a hold (who, when, why) or a revert, the
// environment's freeze window ("frozen until …"), and the soak time of a
// drifted row whose upstream has not run its digest long enough ("soaking
// until …"). Times are judged at the matrix's Generated time.
type Holds struct {
	Reader HoldReader
	// Targets are the environments the matrix may show; rows of another
	// environment are left alone.
	Targets []*promote.Target
	// Images maps services to their repository as the upstream-most
	// manifests name them (the map given to Read).
	Images map[string]string
}

// NewHolds is the hold, freeze and soak annotator over r (a *holds.Checker).
func NewHolds(r HoldReader, targets []*promote.Target, images map[string]string) *Holds {
	return &Holds{Reader: r, Targets: targets, Images: images}
}

var _ Annotator = (*Holds)(nil)

// Annotate implements Annotator. An environment whose holds cannot be read
// is an error naming it; the other environments are still annotated.
func (a *Holds) Annotate(ctx context.Context, m *Matrix) error {
	var errs []error
	for _, t := range a.Targets {
		rows := m.rowsOf(t.Name())
		if len(rows) == 0 {
			continue
		}
		if err := a.annotateEnv(ctx, t, m.Generated, rows); err != nil {
			errs = append(errs, fmt.Errorf("environment %q: hold state: %w", t.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// rowsOf returns pointers to env's rows.
func (m *Matrix) rowsOf(env string) []*Row {
	var out []*Row
	for i := range m.Rows {
		if m.Rows[i].Env == env {
			out = append(out, &m.Rows[i])
		}
	}
	return out
}

func (a *Holds) annotateEnv(ctx context.Context, t *promote.Target, now time.Time, rows []*Row) error {
	images := map[string]string{}
	for _, r := range rows {
		if repo, ok := a.Images[r.Service]; ok {
			images[r.Service] = t.ImageRepo(repo)
		}
	}
	held, err := a.Reader.Held(ctx, t.Env, images)
	if err != nil {
		return err
	}
	var frozen string
	if p, ok := t.Freeze.At(now); ok {
		frozen = "frozen until " + p.Until.UTC().Format(time.RFC3339)
		if p.Window != nil && p.Window.Reason != "" {
			frozen += ": " + p.Window.Reason
		}
	}
	for _, r := range rows {
		var states []string
		for _, h := range held {
			if h.Service == "" || h.Service == r.Service {
				states = append(states, h.Describe())
				break
			}
		}
		if frozen != "" {
			states = append(states, frozen)
		}
		soak, err := a.soak(ctx, t, now, r)
		if err != nil {
			return err
		}
		if soak != "" {
			states = append(states, soak)
		}
		r.Hold = strings.Join(states, "; ")
	}
	return nil
}

// soak says when the digest r's upstream runs becomes eligible here, for a
// drifted row of an environment with a soak time ("" when it already is, or
// nothing waits).
func (a *Holds) soak(ctx context.Context, t *promote.Target, now time.Time, r *Row) (string, error) {
	if t.Soak <= 0 || t.From == nil || !r.Drift {
		return "", nil
	}
	repo, ok := a.Images[r.Service]
	if !ok {
		return "", nil
	}
	since, ok, err := a.Reader.Since(ctx, t.From.Env, r.Service, t.From.ImageRepo(repo))
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("soaking: %s has not run it for %s yet", t.From.Name(), t.Soak), nil
	}
	if until := since.Add(t.Soak); now.Before(until) {
		return fmt.Sprintf("soaking until %s (%s runs it since %s; soak %s)", until.UTC().Format(time.RFC3339),
			t.From.Name(), since.UTC().Format(time.RFC3339), t.Soak), nil
	}
	return "", nil
}
