package gate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/deployment-automator/automator/internal/config"
)

// Mode says what a failed policy does.
type Mode string

const (
	// ModeBlock stops the promotion (exit code 3 when nothing else passes).
	ModeBlock Mode = "block"
	// ModeWarn reports the failure and lets the promotion proceed.
	ModeWarn Mode = "warn"
)

// Policy is one environment's gate: which findings fail it and what a failure
// does. The zero value fails on nothing.
type Policy struct {
	// FailOn lists severities of which no finding is allowed (unless MaxCount
	// raises the allowance for that severity).
	FailOn []Severity
	// IgnoreUnfixed skips findings without a fixed version.
	IgnoreUnfixed bool
	// MaxCount allows up to n findings of a severity; more fails the policy.
	// It applies to severities in FailOn and to others alike.
	MaxCount map[Severity]int
	// Mode is block or warn; empty means block.
	Mode Mode
}

// PolicyFromConfig converts a config policy, validating severities and mode.
// Errors name the offending key under keyPath (e.g. "environments[2].gate").
func PolicyFromConfig(keyPath string, p config.Policy) (Policy, error) {
	var out Policy
	for i, s := range p.FailOn {
		sev, err := ParseSeverity(s)
		if err != nil {
			return Policy{}, fmt.Errorf("%s.failOn[%d]: %w", keyPath, i, err)
		}
		if !slices.Contains(out.FailOn, sev) {
			out.FailOn = append(out.FailOn, sev)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.MaxCount)) {
		sev, err := ParseSeverity(k)
		if err != nil {
			return Policy{}, fmt.Errorf("%s.maxCount.%s: %w", keyPath, k, err)
		}
		if p.MaxCount[k] < 0 {
			return Policy{}, fmt.Errorf("%s.maxCount.%s: must not be negative, got %d", keyPath, k, p.MaxCount[k])
		}
		if out.MaxCount == nil {
			out.MaxCount = map[Severity]int{}
		}
		out.MaxCount[sev] = p.MaxCount[k]
	}
	switch Mode(p.Mode) {
	case "", ModeBlock:
		out.Mode = ModeBlock
	case ModeWarn:
		out.Mode = ModeWarn
	default:
		return Policy{}, fmt.Errorf("%s.mode: unknown mode %q (want block or warn)", keyPath, p.Mode)
	}
	out.IgnoreUnfixed = p.IgnoreUnfixed
	return out, nil
}

// EnvPolicy is the policy that applies to one named environment.
type EnvPolicy struct {
	Env    string
	Policy Policy
}

// limit is how many findings of sev the policy allows; -1 means unlimited.
func (p Policy) limit(sev Severity) int {
	if n, ok := p.MaxCount[sev]; ok {
		return n
	}
	if slices.Contains(p.FailOn, sev) {
		return 0
	}
	return -1
}

// String renders the policy compactly for reports, e.g.
// "failOn CRITICAL,HIGH · ignoreUnfixed · mode block".
func (p Policy) String() string {
	var parts []string
	if len(p.FailOn) > 0 {
		fs := make([]string, len(p.FailOn))
		for i, s := range p.FailOn {
			fs[i] = string(s)
		}
		parts = append(parts, "failOn "+strings.Join(fs, ","))
	}
	for _, sev := range Severities {
		if n, ok := p.MaxCount[sev]; ok {
			parts = append(parts, fmt.Sprintf("max %s %d", sev, n))
		}
	}
	if p.IgnoreUnfixed {
		parts = append(parts, "ignoreUnfixed")
	}
	mode := p.Mode
	if mode == "" {
		mode = ModeBlock
	}
	parts = append(parts, "mode "+string(mode))
	return strings.Join(parts, " · ")
}

// DefaultScanPolicy is the policy a scan applies when it names no
// environment: adHoc when given (flags), else cfg's scan.policy, else — with
// no config at all — the built-in default of failing on CRITICAL findings.
// Errors name the key the policy came from ("policy").
func DefaultScanPolicy(cfg *config.Config, adHoc *config.Policy) (EnvPolicy, error) {
	base := config.Policy{FailOn: []string{"CRITICAL"}, Mode: "block"}
	if cfg != nil {
		base = cfg.Scan.Policy
	}
	if adHoc != nil {
		base = *adHoc
	}
	p, err := PolicyFromConfig("policy", base)
	if err != nil {
		return EnvPolicy{}, err
	}
	return EnvPolicy{Policy: p}, nil
}
