package factory

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/logging"
	"github.com/deployment-automator/automator/internal/pipeline"
)

// A workflow that writes with its token instead of a GitHub App is told so,
// in a warning and in the job summary; with the App inputs set, or outside
// Actions, nothing is said.
func TestTokenFallbackIsAnnounced(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		cfg  config.GitHub
		warn bool
	}{
		{"workflow token", map[string]string{"GITHUB_ACTIONS": "true"}, config.GitHub{}, true},
		{"app inputs", map[string]string{"GITHUB_ACTIONS": "true", "AUTOMATOR_APP_ID": "42"}, config.GitHub{}, false},
		{"app in config", map[string]string{"GITHUB_ACTIONS": "true"}, config.GitHub{App: &config.GitHubApp{ID: 7}}, false},
		{"outside Actions", map[string]string{}, config.GitHub{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			summary := filepath.Join(t.TempDir(), "summary.md")
			tt.env["GITHUB_STEP_SUMMARY"] = summary
			core, logs := observer.New(zapcore.DebugLevel)
			f := &Factory{Getenv: func(k string) string { return tt.env[k] }, Logger: zap.New(core), Redactor: logging.NewRedactor(nil)}
			if err := f.announceTokenFallback(tt.cfg); err != nil {
				t.Fatal(err)
			}
			md, _ := os.ReadFile(summary)
			warned := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("GitHub App").Len() == 1
			inSummary := strings.Contains(string(md), "GitHub App") && strings.Contains(string(md), "app-id")
			if warned != tt.warn || inSummary != tt.warn {
				t.Errorf("warned %v, in summary %v; want %v\n%s", warned, inSummary, tt.warn, md)
			}
		})
	}
}

// A dry-run promotion into an environment whose registry differs must not
// fail for want of a copier, and must not copy: it gets a copier that
// answers with the source digest without touching a registry.
func TestDryRunPromoterCopiesNothing(t *testing.T) {
	cfg := &config.Config{Environments: []config.Environment{{Name: "prod", Repo: t.TempDir(), Registry: "prod.invalid/acme"}}}
	f := &Factory{Getenv: func(string) string { return "" }, Logger: zap.NewNop(), Redactor: logging.NewRedactor(nil),
		cfg: cfg, scanGate: &pipeline.Gate{}}
	p, err := f.Promoter(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if p.Copier == nil {
		t.Fatal("dry-run promoter has no copier: promotion into another registry fails")
	}
	src := "ghcr.io/acme/cart@sha256:" + strings.Repeat("a", 64)
	d, err := p.Copier.Copy(context.Background(), src, "prod.invalid/acme/cart:1")
	if err != nil || d != "sha256:"+strings.Repeat("a", 64) {
		t.Errorf("Copy = %q, %v", d, err)
	}
}
