package promote

import (
	"fmt"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/freeze"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
)

// Target is an environment resolved once from the config: its settings, its
// gate policy compiled, its upstream (promoteFrom) resolved to a Target, and
// the registry images are copied into. It is built once (Resolve) and passed
// down, so no stage looks an environment up by name or compiles a policy
// per check.
type Target struct {
	// Env is the environment as configured (repo, files, mode…).
	Env config.Environment
	// Policy is the environment's gate (its own or scan.policy), compiled.
	Policy gate.Policy
	// From is the environment this one is promoted from; nil without
	// promoteFrom.
	From *Target
	// Registry is the registry prefix images are copied into before
	// promotion; empty keeps each image's own registry.
	Registry string
	// Services are the services configured for this environment (service
	// → image): only these may get a new kustomize images entry.
	Services map[string]string
	// Freeze are the environment's freeze windows, compiled.
	Freeze freeze.Windows
	// Soak is how long the upstream must have run a digest before it is
	// proposed here (0: at once).
	Soak time.Duration
	// Verify is the evidence every image needs before it is promoted here
	// (environments[].verify, keys loaded); nil verifies nothing.
	Verify *evidence.Policy
}

// Name is the environment's name.
func (t *Target) Name() string { return t.Env.Name }

// EnvPolicy is the compiled policy labelled with the environment, for
// gate.EvaluateAll.
func (t *Target) EnvPolicy() gate.EnvPolicy { return gate.EnvPolicy{Env: t.Env.Name, Policy: t.Policy} }

// Targets are every environment of a config, resolved, in config order.
type Targets []*Target

// Resolve builds the Targets of cfg: one per environment, with its gate
// policy compiled (errors name the key path, e.g. environments[2].gate.mode),
// its verify policy's public keys read, and promoteFrom linked to the
// upstream Target.
func Resolve(cfg *config.Config) (Targets, error) {
	out := make(Targets, len(cfg.Environments))
	for i, env := range cfg.Environments {
		key := "scan.policy"
		if env.Gate != nil {
			key = fmt.Sprintf("environments[%d].gate", i)
		}
		p, err := gate.PolicyFromConfig(key, cfg.GatePolicy(&cfg.Environments[i]))
		if err != nil {
			return nil, fmt.Errorf("environment %q: %w", env.Name, err)
		}
		v, err := verifyPolicy(cfg, i)
		if err != nil {
			return nil, fmt.Errorf("environment %q: %w", env.Name, err)
		}
		out[i] = &Target{Env: env, Policy: p, Registry: env.Registry, Services: gitops.ConfiguredImages(cfg, env.Name), Verify: v}
		for j, f := range env.Freeze {
			w, err := freeze.Parse(f.Start, f.Duration, f.TimeZone, f.Reason)
			if err != nil {
				return nil, fmt.Errorf("environment %q: freeze[%d]: %w", env.Name, j, err)
			}
			out[i].Freeze = append(out[i].Freeze, w)
		}
		if env.Soak != "" {
			d, err := time.ParseDuration(env.Soak)
			if err != nil || d < 0 {
				return nil, fmt.Errorf("environment %q: soak %q: want a non-negative Go duration", env.Name, env.Soak)
			}
			out[i].Soak = d
		}
	}
	for _, t := range out {
		if t.Env.PromoteFrom == "" {
			continue
		}
		from, err := out.Lookup(t.Env.PromoteFrom)
		if err != nil {
			return nil, fmt.Errorf("environment %q: promoteFrom: %w", t.Name(), err)
		}
		t.From = from[0]
	}
	return out, nil
}

// Lookup returns the targets with the given names, in that order: the one
// place where a name (a flag, a watch rule) becomes a Target. An unknown
// name is a *TargetError.
func (ts Targets) Lookup(names ...string) ([]*Target, error) {
	out := make([]*Target, 0, len(names))
	for _, n := range names {
		var found *Target
		for _, t := range ts {
			if t.Name() == n {
				found = t
				break
			}
		}
		if found == nil {
			have := make([]string, len(ts))
			for i, t := range ts {
				have[i] = t.Name()
			}
			return nil, &TargetError{Name: n, Have: strings.Join(have, ", ")}
		}
		out = append(out, found)
	}
	return out, nil
}

// Policies are the gate policies of the named environments, in that
// order (Lookup's *TargetError for an unknown name).
func (ts Targets) Policies(names ...string) ([]gate.EnvPolicy, error) {
	found, err := ts.Lookup(names...)
	if err != nil {
		return nil, err
	}
	out := make([]gate.EnvPolicy, len(found))
	for i, t := range found {
		out[i] = t.EnvPolicy()
	}
	return out, nil
}

// TargetError names an environment that was asked for but does not exist
// (a usage error for the CLI).
type TargetError struct{ Name, Have string }

func (e *TargetError) Error() string {
	return fmt.Sprintf("unknown environment %q (have: %s)", e.Name, e.Have)
}

// ImageRepo is repo as t's manifests name it: moved under t's registry
// when one is set (images are copied there on promotion), else unchanged.
func (t *Target) ImageRepo(repo string) string { return retarget(t, repo) }
