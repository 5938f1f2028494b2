package promote

import (
	"context"
	"fmt"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
)

// Holds says which services of an environment automation must not promote
// now (explicit holds and reverts); *holds.Checker satisfies it.
type Holds interface {
	// Held returns the holds on env's services (service → repository as
	// the manifests name it); a hold with an empty Service holds them all.
	Held(ctx context.Context, env config.Environment, images map[string]string) ([]holds.Hold, error)
}

func (p *Promoter) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// held filters candidates through p.Holds: it returns the candidates
// automation may promote and the holds on the others, as the write-back
// shows them.
func (p *Promoter) held(ctx context.Context, t *Target, candidates []gitops.Update) ([]gitops.Update, []gitops.Held, error) {
	if p.Holds == nil || len(candidates) == 0 {
		return candidates, nil, nil
	}
	images := map[string]string{}
	for _, u := range candidates {
		images[u.Service] = retarget(t, u.Repository)
	}
	hs, err := p.Holds.Held(ctx, t.Env, images)
	if err != nil {
		return nil, nil, fmt.Errorf("environment %q: reading holds: %w", t.Name(), err)
	}
	if len(hs) == 0 {
		return candidates, nil, nil
	}
	by := map[string]holds.Hold{}
	for _, h := range hs {
		by[h.Service] = h
	}
	var free []gitops.Update
	var held []gitops.Held
	for _, u := range candidates {
		h, ok := by[u.Service]
		if !ok {
			h, ok = by[""]
		}
		if ok {
			held = append(held, gitops.Held{Service: u.Service, Reason: h.Describe()})
			continue
		}
		free = append(free, u)
	}
	return free, held, nil
}

// Hold records h (its environment is t's; Service "" holds every service)
// in t's holds file through t's usual mode: one commit, or a pull request
// on automator/hold-<env>.
func (p *Promoter) Hold(ctx context.Context, t *Target, h holds.Hold) (*gitops.Result, error) {
	h.Environment = t.Name()
	if h.At.IsZero() {
		h.At = p.now().UTC().Truncate(time.Second)
	}
	what := holdSubject(t, h.Service)
	return p.Writer.Apply(ctx, gitops.Request{
		Env: t.Env, Branch: "automator/hold-" + t.Name(), Title: "Hold " + what,
		Note:     fmt.Sprintf("Holds %s: automation stops promoting it until `automator release`. %s.", what, h.Describe()),
		Edits:    []gitops.FileEdit{holds.AddEdit(t.Env, h)},
		Trailers: holdTrailers("Automator-Hold", h.Service, h.By, h.Reason),
	})
}

// Release removes the hold on service ("" = the environment's own hold) in
// t and accepts a revert that holds it, through t's usual mode (pull
// requests on automator/release-<env>). Releasing what is not held is
// holds.ErrNotHeld.
func (p *Promoter) Release(ctx context.Context, t *Target, service, by, reason string) (*gitops.Result, error) {
	reverted := ""
	if service != "" && p.Holds != nil {
		repo, ok := p.Images[service]
		if !ok {
			repo, ok = t.Services[service]
		}
		if ok {
			hs, err := p.Holds.Held(ctx, t.Env, map[string]string{service: retarget(t, repo)})
			if err != nil {
				return nil, err
			}
			for _, h := range hs {
				if h.Service == service && h.Reverted != "" {
					reverted = h.Reverted
				}
			}
		}
	}
	what := holdSubject(t, service)
	return p.Writer.Apply(ctx, gitops.Request{
		Env: t.Env, Branch: "automator/release-" + t.Name(), Title: "Release " + what,
		Note:     fmt.Sprintf("Releases %s: automation promotes it again.", what),
		Edits:    []gitops.FileEdit{holds.ReleaseEdit(t.Env, service, reverted, by, p.now().UTC().Truncate(time.Second))},
		Trailers: holdTrailers("Automator-Release", service, by, reason),
	})
}

func holdSubject(t *Target, service string) string {
	if service == "" {
		return "every service in " + t.Name()
	}
	return service + " in " + t.Name()
}

// holdTrailers are the commit trailers of a hold or release.
func holdTrailers(key, service, by, reason string) []string {
	if service == "" {
		service = "*"
	}
	out := []string{key + ": " + service}
	if by != "" {
		out = append(out, "Automator-By: "+by)
	}
	if reason != "" {
		out = append(out, "Automator-Reason: "+reason)
	}
	return out
}
