package gate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func sampleReport() *Report {
	return &Report{
		Image:     Image{Ref: "ghcr.io/acme/cart:sha-abc", Digest: "sha256:" + strings.Repeat("ab", 32), OS: "alpine 3.18.4"},
		DB:        DBInfo{SchemaVersion: 2, UpdatedAt: now.Add(-5 * time.Hour), NextUpdate: now.Add(time.Hour)},
		ScannedAt: now,
		Scanner:   "trivy v0.74.0",
		Findings: []Finding{
			{ID: "CVE-2023-9999", Package: "openssl", PURL: "pkg:apk/alpine/openssl@3.1.0-r0?arch=x86_64&distro=3.18.4", Target: "img (alpine 3.18.4)", Class: "os-pkgs", Type: "alpine", Installed: "3.1.0-r0", Fixed: "3.1.4-r0", Status: "fixed", Severity: SeverityCritical, Title: "openssl | test vulnerability"},
			{ID: "CVE-2021-38561", Package: "golang.org/x/text", PURL: "pkg:golang/golang.org/x/text@v0.3.6", Path: "app/server", Target: "app/server", Class: "lang-pkgs", Type: "gobinary", Installed: "v0.3.6", Fixed: "0.3.7", Status: "fixed", Severity: SeverityHigh, Title: "out-of-bounds read"},
			{ID: "CVE-2024-0001", Package: "busybox", Target: "img (alpine 3.18.4)", Class: "os-pkgs", Type: "alpine", Installed: "1.36.1-r2", Status: "affected", Severity: SeverityHigh, Title: "no fix yet"},
			{ID: "CVE-2024-0002", Package: "zlib", Target: "img (alpine 3.18.4)", Class: "os-pkgs", Type: "alpine", Installed: "1.2.13-r1", Fixed: "1.2.13-r2", Status: "fixed", Severity: SeverityMedium},
		},
	}
}

func ids(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func TestEvaluate(t *testing.T) {
	ignores, err := ParseIgnore(".trivyignore.yaml", []byte(`
vulnerabilities:
  - id: CVE-2021-38561
    statement: text not reachable
    expired_at: 2026-12-31
  - id: CVE-2023-9999
    statement: was accepted until April
    expired_at: 2026-04-01
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		policy       Policy
		ignores      *IgnoreList
		wantOutcome  Outcome
		wantDeciding []string
		wantCounts   Counts
		wantUnfixed  int
		wantIgnored  []string
		wantExpired  []string
	}{
		{
			name:         "prod blocks on critical",
			policy:       Policy{FailOn: []Severity{SeverityCritical}, Mode: ModeBlock},
			wantOutcome:  Block,
			wantDeciding: []string{"CVE-2023-9999"},
			wantCounts:   Counts{SeverityCritical: 1, SeverityHigh: 2, SeverityMedium: 1},
		},
		{
			name:         "dev warns on the same findings",
			policy:       Policy{FailOn: []Severity{SeverityCritical}, Mode: ModeWarn},
			wantOutcome:  Warn,
			wantDeciding: []string{"CVE-2023-9999"},
			wantCounts:   Counts{SeverityCritical: 1, SeverityHigh: 2, SeverityMedium: 1},
		},
		{
			name:         "critical and high, unfixed ignored",
			policy:       Policy{FailOn: []Severity{SeverityCritical, SeverityHigh}, IgnoreUnfixed: true},
			wantOutcome:  Block,
			wantDeciding: []string{"CVE-2023-9999", "CVE-2021-38561"},
			wantCounts:   Counts{SeverityCritical: 1, SeverityHigh: 1, SeverityMedium: 1},
			wantUnfixed:  1,
		},
		{
			name:        "maxCount raises the allowance",
			policy:      Policy{FailOn: []Severity{SeverityCritical, SeverityHigh}, MaxCount: map[Severity]int{SeverityCritical: 1, SeverityHigh: 2}},
			wantOutcome: Pass,
			wantCounts:  Counts{SeverityCritical: 1, SeverityHigh: 2, SeverityMedium: 1},
		},
		{
			name:         "maxCount caps a severity not in failOn",
			policy:       Policy{MaxCount: map[Severity]int{SeverityMedium: 0}},
			wantOutcome:  Block,
			wantDeciding: []string{"CVE-2024-0002"},
			wantCounts:   Counts{SeverityCritical: 1, SeverityHigh: 2, SeverityMedium: 1},
		},
		{
			name:        "empty policy passes",
			policy:      Policy{},
			wantOutcome: Pass,
			wantCounts:  Counts{SeverityCritical: 1, SeverityHigh: 2, SeverityMedium: 1},
		},
		{
			name:         "future expiry suppresses, past expiry does not",
			policy:       Policy{FailOn: []Severity{SeverityCritical, SeverityHigh}, IgnoreUnfixed: true},
			ignores:      ignores,
			wantOutcome:  Block,
			wantDeciding: []string{"CVE-2023-9999"},
			wantCounts:   Counts{SeverityCritical: 1, SeverityMedium: 1},
			wantUnfixed:  1,
			wantIgnored:  []string{"CVE-2021-38561"},
			wantExpired:  []string{"CVE-2023-9999"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport()
			before := r.Clone()
			v := Evaluate(r, "env", tt.policy, tt.ignores, now)
			if v.Outcome != tt.wantOutcome {
				t.Errorf("outcome = %s, want %s (reasons %v)", v.Outcome, tt.wantOutcome, v.Reasons)
			}
			if got := ids(v.Deciding); !slices.Equal(got, tt.wantDeciding) {
				t.Errorf("deciding = %v, want %v", got, tt.wantDeciding)
			}
			for _, s := range Severities {
				if v.Counts[s] != tt.wantCounts[s] {
					t.Errorf("count %s = %d, want %d", s, v.Counts[s], tt.wantCounts[s])
				}
			}
			if v.Unfixed != tt.wantUnfixed {
				t.Errorf("unfixed = %d, want %d", v.Unfixed, tt.wantUnfixed)
			}
			var ign, exp []string
			for _, i := range v.Ignored {
				ign = append(ign, i.Finding.ID)
			}
			for _, e := range v.Expired {
				exp = append(exp, e.Rule.ID)
			}
			if !slices.Equal(ign, tt.wantIgnored) || !slices.Equal(exp, tt.wantExpired) {
				t.Errorf("ignored = %v expired = %v, want %v and %v", ign, exp, tt.wantIgnored, tt.wantExpired)
			}
			if (len(v.Reasons) > 0) != v.Failed() {
				t.Errorf("reasons %v inconsistent with outcome %s", v.Reasons, v.Outcome)
			}
			if !slices.Equal(ids(r.Findings), ids(before.Findings)) {
				t.Error("Evaluate modified the report")
			}
		})
	}
}

func TestCheckAndAllowed(t *testing.T) {
	r := sampleReport()
	verdicts := EvaluateAll(r, []EnvPolicy{
		{Env: "dev", Policy: Policy{FailOn: []Severity{SeverityCritical}, Mode: ModeWarn}},
		{Env: "staging", Policy: Policy{FailOn: []Severity{SeverityHigh}, IgnoreUnfixed: true, MaxCount: map[Severity]int{SeverityHigh: 5}}},
		{Env: "prod", Policy: Policy{FailOn: []Severity{SeverityCritical}}},
	}, nil, now)
	if got := Allowed(verdicts); !slices.Equal(got, []string{"dev", "staging"}) {
		t.Errorf("Allowed = %v", got)
	}
	err := Check(r.Image, verdicts)
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("Check = %v, want *BlockedError", err)
	}
	if !errors.Is(err, ErrBlocked) || !slices.Equal(be.Envs(), []string{"prod"}) {
		t.Errorf("blocked %v envs %v", errors.Is(err, ErrBlocked), be.Envs())
	}
	if !strings.Contains(err.Error(), "prod (1 CRITICAL finding, 0 allowed)") || !strings.Contains(err.Error(), r.Image.Digest) {
		t.Errorf("error text %q lacks the env, reason or digest", err)
	}
	if err := Check(r.Image, verdicts[:2]); err != nil {
		t.Errorf("Check without a blocking verdict = %v", err)
	}
}

func TestPolicyFromConfigErrors(t *testing.T) {
	tests := []struct {
		in   config.Policy
		want string
	}{
		{config.Policy{FailOn: []string{"SEVERE"}}, "environments[1].gate.failOn[0]"},
		{config.Policy{MaxCount: map[string]int{"HIGH": -1}}, "environments[1].gate.maxCount.HIGH"},
		{config.Policy{MaxCount: map[string]int{"BAD": 1}}, "environments[1].gate.maxCount.BAD"},
		{config.Policy{Mode: "audit"}, "environments[1].gate.mode"},
	}
	for _, tt := range tests {
		_, err := PolicyFromConfig("environments[1].gate", tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("PolicyFromConfig(%+v) = %v, want error naming %s", tt.in, err, tt.want)
		}
	}
}
