package gate

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/config"
)

func TestReportsApply(t *testing.T) {
	warnDev := EnvPolicy{Env: "dev", Policy: Policy{FailOn: []Severity{SeverityCritical}, Mode: ModeWarn}}
	passAll := EnvPolicy{Env: "qa", Policy: Policy{}}
	blockProd := EnvPolicy{Env: "prod", Policy: Policy{FailOn: []Severity{SeverityCritical}}}
	tests := []struct {
		name        string
		policies    []EnvPolicy
		wantBlocked bool
		wantLogs    []string // messages in order
	}{
		{"pass", []EnvPolicy{passAll}, false, []string{"vulnerability gate passed"}},
		{"warn then pass", []EnvPolicy{warnDev, passAll}, false,
			[]string{"vulnerability gate failed in warn mode, not blocking", "vulnerability gate passed"}},
		{"block", []EnvPolicy{warnDev, blockProd}, true,
			[]string{"vulnerability gate failed in warn mode, not blocking"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport()
			core, logs := observer.New(zap.DebugLevel)
			var out bytes.Buffer
			err := Reports{Format: "json"}.Apply(&out, zap.New(core), r, EvaluateAll(r, tt.policies, nil, now), now)
			if got := errors.Is(err, ErrBlocked); got != tt.wantBlocked {
				t.Fatalf("Apply = %v, want blocked %v", err, tt.wantBlocked)
			}
			if !strings.Contains(out.String(), r.Image.Digest) {
				t.Errorf("the json report was not written: %q", out.String())
			}
			var got []string
			for _, e := range logs.All() {
				got = append(got, e.Message)
			}
			if strings.Join(got, "|") != strings.Join(tt.wantLogs, "|") {
				t.Errorf("logged %q, want %q", got, tt.wantLogs)
			}
		})
	}
}

func TestReportsApplyReportsWriteErrors(t *testing.T) {
	r := sampleReport()
	err := Reports{Format: "table", SARIF: t.TempDir() + "/missing/dir/out.sarif"}.Apply(&bytes.Buffer{}, zap.NewNop(), r, nil, now)
	if err == nil || errors.Is(err, ErrBlocked) {
		t.Errorf("Apply with an unwritable SARIF path = %v, want a write error", err)
	}
}

func TestDefaultScanPolicy(t *testing.T) {
	withCfg := &config.Config{Scan: config.Scan{Policy: config.Policy{FailOn: []string{"HIGH"}, Mode: "warn"}}}
	tests := []struct {
		name  string
		cfg   *config.Config
		adHoc *config.Policy
		want  string
	}{
		{"no config: CRITICAL blocks", nil, nil, Policy{FailOn: []Severity{SeverityCritical}, Mode: ModeBlock}.String()},
		{"scan.policy", withCfg, nil, Policy{FailOn: []Severity{SeverityHigh}, Mode: ModeWarn}.String()},
		{"ad hoc wins", withCfg, &config.Policy{FailOn: []string{"LOW"}, IgnoreUnfixed: true}, Policy{FailOn: []Severity{SeverityLow}, IgnoreUnfixed: true}.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultScanPolicy(tt.cfg, tt.adHoc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Env != "" || got.Policy.String() != tt.want {
				t.Errorf("DefaultScanPolicy = %q %q, want \"\" %q", got.Env, got.Policy.String(), tt.want)
			}
		})
	}
	if _, err := DefaultScanPolicy(nil, &config.Policy{Mode: "audit"}); err == nil || !strings.Contains(err.Error(), "policy.mode") {
		t.Errorf("a bad ad-hoc mode = %v, want an error naming policy.mode", err)
	}
}
