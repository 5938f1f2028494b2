package promote

import (
	"context"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gitops"
)

// EvidenceVerifier checks an image's signature and attestations against a
// policy; evidence.Verifier satisfies it.
type EvidenceVerifier interface {
	Verify(ctx context.Context, image string, p evidence.Policy) (*evidence.Result, error)
}

// VerifyingGate puts evidence verification in front of the scan gate: an
// image promoted into a target with a verify policy (Target.Verify) must
// carry a signature by one of its keys and its required attestations, or it
// is blocked for that target with the reason shown to reviewers, whether it
// was built by this run or elsewhere (the watcher). Images that pass go on
// to Next, and their evidence digests are added to the summary for the pull
// request table and commit trailers. Targets without a policy go straight
// to Next.
type VerifyingGate struct {
	// Next is the scan gate (nil: images pass unscanned).
	Next     Gate
	Verifier EvidenceVerifier
}

var _ Gate = VerifyingGate{}

// Check implements Gate.
func (g VerifyingGate) Check(ctx context.Context, t *Target, image string) (gitops.ScanSummary, bool, error) {
	var ev *gitops.Evidence
	if t.Verify != nil {
		res, err := g.Verifier.Verify(ctx, image, *t.Verify)
		var ue *evidence.UnverifiedError
		if errors.As(err, &ue) {
			return gitops.ScanSummary{Verdict: "fail", Evidence: &gitops.Evidence{Problem: ue.Reason}}, false, nil
		}
		if err != nil {
			return gitops.ScanSummary{}, false, fmt.Errorf("verifying %s: %w", image, err)
		}
		ev = &gitops.Evidence{Signature: res.Signature.Manifest}
		for _, a := range res.Attestations {
			ev.Attestations = append(ev.Attestations, gitops.Attestation{Type: a.Type, Digest: a.Manifest, At: a.At})
		}
	}
	if g.Next == nil {
		return gitops.ScanSummary{Verdict: "skipped", Evidence: ev}, true, nil
	}
	sum, ok, err := g.Next.Check(ctx, t, image)
	sum.Evidence = ev
	return sum, ok, err
}

// Verifies reports whether any target has a verify policy (whether a
// VerifyingGate is needed at all).
func (ts Targets) Verifies() bool {
	for _, t := range ts {
		if t.Verify != nil {
			return true
		}
	}
	return false
}

// verifyPolicy compiles environments[i].verify: its public keys read (from
// the repository for relative paths) and its attestation types resolved.
func verifyPolicy(cfg *config.Config, i int) (*evidence.Policy, error) {
	v := cfg.Environments[i].Verify
	if v == nil {
		return nil, nil
	}
	p := &evidence.Policy{}
	for j, k := range v.Keys {
		b, err := cfg.ReadFile(k)
		if err == nil {
			var key signature.Verifier
			if key, err = evidence.LoadPublicKey(b); err == nil {
				p.Keys = append(p.Keys, key)
				continue
			}
		}
		return nil, &config.Error{Problems: []config.Problem{cfg.Problemf(fmt.Sprintf("environments[%d].verify.keys[%d]", i, j), "%s: %v", k, err)}}
	}
	for _, a := range v.Attestations {
		p.Attestations = append(p.Attestations, evidence.Requirement{Type: evidence.PredicateType(a.Type), MaxAge: a.Age()})
	}
	return p, nil
}

// EvidenceCopier copies an image's signatures, attestations and SBOMs along
// with the image (evidence.Carrier), so that the destination environment's
// verify policy holds there too.
type EvidenceCopier struct {
	Next  Copier
	Carry func(ctx context.Context, image, dst string) ([]string, error)
}

var _ Copier = EvidenceCopier{}

// Copy implements Copier: the image, then its evidence.
func (c EvidenceCopier) Copy(ctx context.Context, src, dst string, mountFrom ...string) (string, error) {
	d, err := c.Next.Copy(ctx, src, dst, mountFrom...)
	if err != nil {
		return d, err
	}
	if _, err := c.Carry(ctx, src, dst); err != nil {
		return d, fmt.Errorf("copying the signatures and attestations of %s: %w", src, err)
	}
	return d, nil
}
