package watch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// WriteBack returns the watcher's CurrentReader and Lander over the one
// promoter: what an environment pins is read through p's write-back (wrap it
// in promote.CachedReads with CycleOf so that a cycle reads each environment
// once), and an update lands through p.Promote (gate, copy, one commit or PR
// per environment). The rules' environments are resolved to targets here,
// once; an unknown one is an error naming the rule.
func WriteBack(p *promote.Promoter, targets promote.Targets, rules []config.WatchRule) (CurrentReader, Lander, error) {
	b := &writeBack{p: p, targets: map[string]*promote.Target{}, images: map[string]map[string]string{}}
	for i, r := range rules {
		ts, err := targets.Lookup(r.Environments...)
		if err != nil {
			return nil, nil, fmt.Errorf("watch.rules[%d].environments: %w", i, err)
		}
		for _, t := range ts {
			b.targets[t.Name()] = t
			if b.images[t.Name()] == nil {
				b.images[t.Name()] = map[string]string{}
			}
			// The rule name is the service name in manifests, so the
			// environment's images[] paths for that service apply.
			b.images[t.Name()][r.Name] = r.Image
		}
	}
	return b, b, nil
}

// writeBack adapts promote.Promoter to the watcher's narrow interfaces.
type writeBack struct {
	p       *promote.Promoter
	targets map[string]*promote.Target // the rules' environments, resolved once
	// images is, per environment, the service → repository map of the
	// watch rules promoting into it: one read answers every rule.
	images map[string]map[string]string
	mu     sync.Mutex // one promotion at a time
}

func (b *writeBack) target(env string) (*promote.Target, error) {
	t, ok := b.targets[env]
	if !ok {
		return nil, fmt.Errorf("environment %q is not one of the watch rules' environments", env)
	}
	return t, nil
}

// Current reads the images of env's watch rules (one read per cycle when the
// promoter's writer caches reads) and picks image.
func (b *writeBack) Current(ctx context.Context, env, image string) (string, string, error) {
	t, err := b.target(env)
	if err != nil {
		return "", "", err
	}
	images := b.images[env]
	watched := false
	for _, repo := range images {
		watched = watched || repo == image
	}
	if !watched {
		images = map[string]string{"watched": image}
	}
	imgs, err := b.p.Writer.Current(ctx, t.Env, "", images)
	if err != nil {
		return "", "", err
	}
	for _, im := range imgs {
		if im.Repository == image {
			return im.Tag, im.Digest, nil
		}
	}
	return "", "", fmt.Errorf("%s in environment %s: %w", image, env, ErrNotDeployed)
}

// Promote lands u in env; a gate block is an outcome, not an error.
func (b *writeBack) Promote(ctx context.Context, env string, u Update) (Outcome, error) {
	t, err := b.target(env)
	if err != nil {
		return Outcome{}, err
	}
	// One write-back per environment at a time within this process; across
	// replicas the write-back's own non-fast-forward retries keep it safe.
	b.mu.Lock()
	defer b.mu.Unlock()
	res, err := b.p.Promote(ctx, t, []gitops.Update{{Service: u.Service, Repository: u.Image, Tag: u.Tag, Digest: u.Digest}})
	var blocked *gate.BlockedError
	if errors.As(err, &blocked) {
		return Outcome{Result: Blocked, Reason: blocked.Error()}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if !res.Changed() && res.Frozen != nil {
		return Outcome{Result: Frozen, Reason: "until " + res.Frozen.Until.UTC().Format(time.RFC3339) + " " + res.Frozen.Reason}, nil
	}
	if !res.Changed() && len(res.Held) > 0 {
		return Outcome{Result: Held, Reason: res.Held[0].Reason}, nil
	}
	if !res.Changed() {
		return Outcome{Result: Unchanged}, nil
	}
	url := res.CommitURL
	if res.PR != nil {
		url = res.PR.URL
	}
	return Outcome{Result: Promoted, URL: url}, nil
}

var (
	_ CurrentReader = (*writeBack)(nil)
	_ Lander        = (*writeBack)(nil)
)
