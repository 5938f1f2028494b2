package watch

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// maxPinLookups bounds the HEAD requests one check spends finding which tag
// an environment pinned by digest only runs. Tags are tried newest first, so
// a pin of a newer image (the case that must not be downgraded) or of the
// previous release is found within a few requests; past the bound the
// watcher cannot tell and promotes nothing.
const maxPinLookups = 20

// checkCache holds what one check learnt from the registry, shared by its
// rules and environments so no tag is resolved twice.
type checkCache struct {
	described map[string]Image  // tag → candidate image (digest, created)
	heads     map[string]string // tag → digest
}

func newCheckCache() *checkCache {
	return &checkCache{described: map[string]Image{}, heads: map[string]string{}}
}

// pinPlace is where a digest-only pin stands against the candidate.
type pinPlace int

const (
	pinUnknown  pinPlace = iota // the digest matches no tag the bounded search saw
	pinOlder                    // the digest is a tag older than the candidate
	pinNotOlder                 // the digest is the candidate or a tag at least as new
)

// placePin finds the tag whose digest is pinned (an environment that pins
// no tag) among tags, in the rule policy's order, newest first, and says
// whether it is older than the candidate cand (whose digest is candDigest).
// why explains an unknown place for the log and the cycle report.
func (w *Watcher) placePin(ctx context.Context, t *target, r *rule, cand, candDigest, pinned string, tags []string,
	cache *checkCache) (place pinPlace, tag, why string, err error) {
	if pinned == candDigest {
		return pinNotOlder, cand, "", nil
	}
	rk, ok := r.policy.(Ranker)
	if !ok {
		return pinUnknown, "", "the policy cannot order tags", nil
	}
	lookups := 0
	for _, tag := range rk.Rank(tags) {
		if tag == cand {
			continue
		}
		d, seen := cache.heads[tag]
		if !seen {
			if lookups == maxPinLookups {
				return pinUnknown, "", fmt.Sprintf("the pinned digest is none of the %d newest tags checked", maxPinLookups), nil
			}
			lookups++
			if d, err = w.reg.Head(ctx, t.repo.Tag(tag)); err != nil {
				return pinUnknown, "", "", fmt.Errorf("resolving tag %s to place the pinned digest: %w", tag, err)
			}
			cache.heads[tag] = d
		}
		if d != pinned {
			continue
		}
		if r.policy.Newer(cand, tag) {
			return pinOlder, tag, "", nil
		}
		return pinNotOlder, tag, "", nil
	}
	return pinUnknown, "", "the pinned digest matches no tag the policy can order", nil
}

// undecided records, once per environment, pinned digest and candidate,
// that the watcher could not tell whether the candidate is newer than what
// the environment runs: a warning the first time, debug after, and an
// entry in every cycle report that meets it.
func (w *Watcher) undecided(t *target, r *rule, env, cand, pinned, why string, log *zap.Logger, rep *checkReport) {
	msg := fmt.Sprintf("%s in %s: pinned by digest %s only, and %s; cannot tell whether %s is newer, not promoting",
		r.name, env, shortDigest(pinned), why, cand)
	rep.undecided = append(rep.undecided, msg)
	key := strings.Join([]string{r.name, env, pinned, cand}, "\x00")
	t.mu.Lock()
	first := !t.undecidedLogged[key]
	if first {
		if t.undecidedLogged == nil || len(t.undecidedLogged) >= 64 {
			t.undecidedLogged = map[string]bool{}
		}
		t.undecidedLogged[key] = true
	}
	t.mu.Unlock()
	l := log.With(zap.String("environment", env), zap.String("pinned", pinned), zap.String("reason", why))
	if first {
		l.Warn("cannot tell whether the candidate is newer than the pinned digest; not promoting")
	} else {
		l.Debug("cannot tell whether the candidate is newer than the pinned digest; not promoting")
	}
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}
