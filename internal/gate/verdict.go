package gate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Outcome is what a verdict means for the promotion.
type Outcome string

const (
	// Pass: the policy holds.
	Pass Outcome = "pass"
	// Warn: the policy fails but its mode is warn; the promotion proceeds.
	Warn Outcome = "warn"
	// Block: the policy fails in block mode; the promotion must not happen.
	Block Outcome = "block"
)

// IgnoredFinding is a finding suppressed by an active ignore rule.
type IgnoredFinding struct {
	Finding Finding    `json:"finding"`
	Rule    IgnoreRule `json:"rule"`
}

// ExpiredIgnore is an ignore rule whose expired_at has passed but that still
// matches findings of this image: it no longer applies, and reports say so.
type ExpiredIgnore struct {
	Rule     IgnoreRule `json:"rule"`
	Findings []Finding  `json:"findings"`
}

// Counts holds the number of findings per severity.
type Counts map[Severity]int

// Total is the sum over all severities.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Verdict is the result of one policy applied to one report: the outcome and
// the evidence that decided it.
type Verdict struct {
	// Env is the environment the policy belongs to; empty for an ad-hoc policy.
	Env    string `json:"env,omitempty"`
	Policy string `json:"policy"`
	Mode   Mode   `json:"mode"`
	// Outcome is pass, warn or block.
	Outcome Outcome `json:"outcome"`
	// Reasons says which limit failed, e.g. "1 CRITICAL finding, 0 allowed".
	Reasons []string `json:"reasons,omitempty"`
	// Deciding lists the findings that failed the policy, most severe first.
	Deciding []Finding `json:"deciding,omitempty"`
	// Counts are the findings the policy considered (after ignore rules and
	// ignoreUnfixed) per severity.
	Counts Counts `json:"counts"`
	// Unfixed is how many findings ignoreUnfixed skipped.
	Unfixed int `json:"unfixed,omitempty"`
	// Ignored lists findings suppressed by active ignore rules.
	Ignored []IgnoredFinding `json:"ignored,omitempty"`
	// Expired lists expired ignore rules that match findings of this image.
	Expired []ExpiredIgnore `json:"expired,omitempty"`
}

// Failed reports whether the policy did not hold (warn or block).
func (v Verdict) Failed() bool { return v.Outcome != Pass }

// Evaluate applies p and the ignore list to the report at time now (for
// ignore expiry). It is pure and deterministic; the report is not modified.
//
// A finding is first matched against ignore rules (active rules suppress it,
// expired rules are recorded and do not), then skipped when p.IgnoreUnfixed
// and it has no fix. The remaining findings are counted per severity; a
// severity fails when its count exceeds MaxCount[sev], or 0 when it is in
// FailOn and has no MaxCount.
func Evaluate(r *Report, env string, p Policy, ignores *IgnoreList, now time.Time) Verdict {
	mode := p.Mode
	if mode == "" {
		mode = ModeBlock
	}
	v := Verdict{Env: env, Policy: p.String(), Mode: mode, Outcome: Pass, Counts: Counts{}}
	bySev := map[Severity][]Finding{}
	expired := map[string]*ExpiredIgnore{}
	var expiredOrder []string
	for _, f := range r.Findings {
		if f.Severity == "" {
			f.Severity = SeverityUnknown
		}
		active, exp := ignores.match(f, now)
		for _, rule := range exp {
			e, ok := expired[rule.Source]
			if !ok {
				e = &ExpiredIgnore{Rule: rule}
				expired[rule.Source] = e
				expiredOrder = append(expiredOrder, rule.Source)
			}
			e.Findings = append(e.Findings, f)
		}
		if active != nil {
			v.Ignored = append(v.Ignored, IgnoredFinding{Finding: f, Rule: *active})
			continue
		}
		if p.IgnoreUnfixed && !f.Fixable() {
			v.Unfixed++
			continue
		}
		v.Counts[f.Severity]++
		bySev[f.Severity] = append(bySev[f.Severity], f)
	}
	for _, src := range expiredOrder {
		v.Expired = append(v.Expired, *expired[src])
	}
	for _, sev := range Severities {
		limit, n := p.limit(sev), v.Counts[sev]
		if limit < 0 || n <= limit {
			continue
		}
		v.Reasons = append(v.Reasons, fmt.Sprintf("%d %s %s, %d allowed", n, sev, plural(n, "finding"), limit))
		v.Deciding = append(v.Deciding, bySev[sev]...)
	}
	SortFindings(v.Deciding)
	if len(v.Reasons) > 0 {
		v.Outcome = Block
		if mode == ModeWarn {
			v.Outcome = Warn
		}
	}
	return v
}

// EvaluateAll applies each environment's policy to the same report — one scan,
// many policies — returning the verdicts in the order given.
func EvaluateAll(r *Report, policies []EnvPolicy, ignores *IgnoreList, now time.Time) []Verdict {
	out := make([]Verdict, len(policies))
	for i, ep := range policies {
		out[i] = Evaluate(r, ep.Env, ep.Policy, ignores, now)
	}
	return out
}

// Allowed returns the environments whose verdict lets the image through
// (pass or warn), in order. The pipeline promotes to these only, and pushes
// the image only when this is not empty.
func Allowed(verdicts []Verdict) []string {
	var envs []string
	for _, v := range verdicts {
		if v.Outcome != Block {
			envs = append(envs, v.Env)
		}
	}
	return envs
}

// Check returns a *BlockedError when any verdict blocks, nil otherwise.
func Check(img Image, verdicts []Verdict) error {
	var blocked []Verdict
	for _, v := range verdicts {
		if v.Outcome == Block {
			blocked = append(blocked, v)
		}
	}
	if len(blocked) == 0 {
		return nil
	}
	return &BlockedError{Images: []Blocked{{Image: img, Verdicts: blocked}}}
}

// ErrBlocked is what every *BlockedError is (errors.Is): callers that only
// need to know "the gate said no" (the CLI's exit code 3, a watcher cycle
// that blocked a promotion) test for it without caring about the details.
var ErrBlocked = errors.New("blocked by a vulnerability gate")

// BlockedError reports that the gate kept images out of environments. It is
// the one "blocked" error of the module: the build (images blocked for every
// target), promotion (one environment's images) and the scan command all
// return it, wrapped with their context, and callers branch on it with
// errors.As or errors.Is(err, ErrBlocked).
type BlockedError struct {
	// Env is the environment whose promotion was blocked; empty when images
	// were gated for several environments at once (a build, a scan).
	Env string
	// Images are the blocked images, each with its blocking verdicts.
	Images []Blocked
}

// Blocked is one image the gate kept out, with the verdicts that did it.
type Blocked struct {
	// Service names the service or watch rule, when known.
	Service string
	Image   Image
	// Verdicts are the blocking verdicts, one per environment.
	Verdicts []Verdict
}

// Is makes every *BlockedError match ErrBlocked.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Error names each blocked image. For one environment's promotion it names
// each service with the findings that blocked it, so an operator reading a
// log line (the watcher, promote) learns why without the pull request or job
// summary; otherwise it names each image with the environments and reasons.
func (e *BlockedError) Error() string {
	if e.Env != "" {
		names := make([]string, len(e.Images))
		for i, b := range e.Images {
			names[i] = b.Service
			if ids := b.findingIDs(5); len(ids) > 0 {
				names[i] += " (" + strings.Join(ids, ", ") + ")"
			} else if len(b.Verdicts) > 0 && len(b.Verdicts[0].Reasons) > 0 {
				// Blocked for a reason other than findings (unverified evidence).
				names[i] += " (" + strings.Join(b.Verdicts[0].Reasons, "; ") + ")"
			}
		}
		return fmt.Sprintf("environment %q: the gate blocked %s", e.Env, strings.Join(names, "; "))
	}
	items := make([]string, len(e.Images))
	for i, b := range e.Images {
		var parts []string
		for _, v := range b.Verdicts {
			name := v.Env
			if name == "" {
				name = "policy"
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", name, strings.Join(v.Reasons, "; ")))
		}
		items[i] = b.label() + " blocked for " + strings.Join(parts, ", ")
	}
	return "vulnerability gate: " + strings.Join(items, "; ")
}

// label is SERVICE@DIGEST (short) when the service is known, else the image.
func (b Blocked) label() string {
	if b.Service == "" {
		return b.Image.String()
	}
	d := b.Image.Digest
	if len(d) > 19 {
		d = d[:19]
	}
	return b.Service + "@" + d
}

// findingIDs lists "ID SEVERITY" of the deciding findings, at most max and
// then "and N more".
func (b Blocked) findingIDs(max int) []string {
	var fs []Finding
	for _, v := range b.Verdicts {
		fs = append(fs, v.Deciding...)
	}
	var ids []string
	for j, f := range fs {
		if j == max {
			ids = append(ids, fmt.Sprintf("and %d more", len(fs)-max))
			break
		}
		ids = append(ids, f.ID+" "+string(f.Severity))
	}
	return ids
}

// Envs lists the environments the images are blocked for, in order, once each.
func (e *BlockedError) Envs() []string {
	var out []string
	for _, b := range e.Images {
		for _, v := range b.Verdicts {
			if !slices.Contains(out, v.Env) {
				out = append(out, v.Env)
			}
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
