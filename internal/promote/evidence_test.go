package promote

import (
	"context"
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/gitops"
)

// fakeVerifier answers per image: an *evidence.UnverifiedError with the
// given reason, a registry failure, or verified evidence.
type fakeVerifier struct {
	reasons map[string]string
	fail    error
	calls   int
}

func (f *fakeVerifier) Verify(_ context.Context, image string, p evidence.Policy) (*evidence.Result, error) {
	f.calls++
	if f.fail != nil {
		return nil, f.fail
	}
	if r, ok := f.reasons[image]; ok {
		return nil, &evidence.UnverifiedError{Image: image, Reason: r}
	}
	res := &evidence.Result{Image: image, Signature: evidence.Attached{Type: "signature", Manifest: digest("5")}}
	for range p.Attestations {
		res.Attestations = append(res.Attestations, evidence.Attestation{Attached: evidence.Attached{Type: "vuln", Manifest: digest("6")}})
	}
	return res, nil
}

func TestVerifyingGate(t *testing.T) {
	policy := &evidence.Policy{Attestations: []evidence.Requirement{{Type: evidence.VulnPredicateType}}}
	good, bad := "r/cart@"+digest("a"), "r/cart@"+digest("b")
	for _, tc := range []struct {
		name        string
		verify      *evidence.Policy
		image       string
		fail        error
		wantAllowed bool
		wantNext    bool
		wantErr     bool
		wantNote    string
	}{
		{name: "no policy: the scan gate alone decides", image: bad, wantAllowed: true, wantNext: true},
		{name: "verified, then scanned", verify: policy, image: good, wantAllowed: true, wantNext: true},
		{name: "unverified: blocked before the scan", verify: policy, image: bad, wantNote: "not signed"},
		{name: "registry failure is an error, not a block", verify: policy, image: good, fail: errors.New("503"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &fakeVerifier{reasons: map[string]string{bad: "not signed"}, fail: tc.fail}
			next := allowOnly{good: true, bad: true}
			scanned := false
			g := VerifyingGate{Next: gateFunc(func(ctx context.Context, tg *Target, image string) (gitops.ScanSummary, bool, error) {
				scanned = true
				return next.Check(ctx, tg, image)
			}), Verifier: v}
			sum, ok, err := g.Check(context.Background(), &Target{Env: config.Environment{Name: "prod"}, Verify: tc.verify}, tc.image)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if ok != tc.wantAllowed || scanned != tc.wantNext {
				t.Errorf("allowed %v scanned %v; want %v %v", ok, scanned, tc.wantAllowed, tc.wantNext)
			}
			if tc.verify == nil && (v.calls != 0 || sum.Evidence != nil) {
				t.Errorf("a target without policy was verified: %d calls, %+v", v.calls, sum.Evidence)
			}
			if tc.wantNote != "" && (sum.Evidence == nil || sum.Evidence.Problem != tc.wantNote) {
				t.Errorf("summary evidence = %+v, want problem %q", sum.Evidence, tc.wantNote)
			}
			if tc.verify != nil && tc.wantAllowed && (sum.Evidence == nil || sum.Evidence.Signature != digest("5") || len(sum.Evidence.Attestations) != 1) {
				t.Errorf("summary evidence = %+v, want the signature and vuln digests", sum.Evidence)
			}
		})
	}
}

type gateFunc func(ctx context.Context, t *Target, image string) (gitops.ScanSummary, bool, error)

func (f gateFunc) Check(ctx context.Context, t *Target, image string) (gitops.ScanSummary, bool, error) {
	return f(ctx, t, image)
}

// An unverified image blocks the environment (exit 3's gate.ErrBlocked)
// with the reason in the error and in the pull request's blocked list,
// while a verified one is promoted with its evidence in the commit trailers.
func TestPromoteBlocksUnverified(t *testing.T) {
	repo := manifestsRepo(t, values)
	w, err := gitops.NewLocalWriter([]gitops.Option{gitops.WithAuthor("t", "t@example.com")}, gitops.WithPusher(gitops.DryRunPusher{}))
	if err != nil {
		t.Fatal(err)
	}
	bad := "prod.example/acme/cart@" + digest("b")
	p := &Promoter{Writer: w, Gate: VerifyingGate{Verifier: &fakeVerifier{reasons: map[string]string{bad: "no signature by a trusted key"}}}}
	env := config.Environment{Name: "dev", Repo: repo, Branch: "main", Files: []string{"envs/*/values.yaml"}, Mode: "commit"}
	target := &Target{Env: env, Verify: &evidence.Policy{}}

	_, err = p.Promote(context.Background(), target, []gitops.Update{{Service: "cart", Repository: "prod.example/acme/cart", Tag: "1.1.0", Digest: digest("b")}})
	if !errors.Is(err, gate.ErrBlocked) || !strings.Contains(err.Error(), "unverified: no signature by a trusted key") {
		t.Fatalf("Promote = %v; want a gate block naming the reason", err)
	}

	res, err := p.Promote(context.Background(), target, []gitops.Update{{Service: "cart", Repository: "prod.example/acme/cart", Tag: "1.1.0", Digest: digest("a")}})
	if err != nil {
		t.Fatal(err)
	}
	if msg := res.Message; !strings.Contains(msg, "Automator-Signature: "+digest("5")) {
		t.Errorf("commit message lacks the signature trailer:\n%s", msg)
	}
}

// Resolve reads each environment's trusted keys from the repository and
// resolves attestation types; a key that does not parse is a config error
// naming its key path.
func TestResolveVerifyPolicy(t *testing.T) {
	_, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.SkipPassword)
	if err != nil {
		t.Fatal(err)
	}
	repo := fstest.MapFS{"keys/cosign.pub": {Data: pub}, "keys/garbage.pub": {Data: []byte("not a key")}}
	cfgText := `version: 1
environments:
  - {name: dev, repo: acme/manifests, files: [dev.yaml]}
  - name: prod
    repo: acme/manifests
    files: [prod.yaml]
    verify:
      keys: [KEY]
      attestations: [{type: vuln, maxAge: 168h}, {type: "https://example.com/custom"}]
`
	cfg, err := config.Parse("automator.yaml", []byte(strings.Replace(cfgText, "KEY", "keys/cosign.pub", 1)), repo)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Verify != nil || !ts.Verifies() {
		t.Errorf("dev verify = %+v, Verifies = %v; want nil and true", ts[0].Verify, ts.Verifies())
	}
	p := ts[1].Verify
	if p == nil || len(p.Keys) != 1 || len(p.Attestations) != 2 ||
		p.Attestations[0] != (evidence.Requirement{Type: evidence.VulnPredicateType, MaxAge: 168 * time.Hour}) ||
		p.Attestations[1].Type != "https://example.com/custom" {
		t.Errorf("prod verify = %+v", p)
	}

	cfg, err = config.Parse("automator.yaml", []byte(strings.Replace(cfgText, "KEY", "keys/garbage.pub", 1)), repo)
	if err != nil {
		t.Fatal(err)
	}
	var ce *config.Error
	if _, err := Resolve(cfg); !errors.As(err, &ce) || !strings.Contains(err.Error(), "environments[1].verify.keys[0]") {
		t.Errorf("Resolve with a bad key = %v; want a *config.Error naming environments[1].verify.keys[0]", err)
	}
}
