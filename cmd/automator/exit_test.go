package main

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/evidence"
	"github.com/deployment-automator/automator/internal/gate"
	"github.com/deployment-automator/automator/internal/git"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/rewrite"
	"github.com/deployment-automator/automator/internal/scan"
)

// TestErrExitCode moved here from internal/pipeline with the exit codes.
func TestErrExitCode(t *testing.T) {
	blocked := func(env string) error {
		return &gate.BlockedError{Env: env, Images: []gate.Blocked{{Service: "cart", Image: gate.Image{Ref: "ghcr.io/acme/cart", Digest: "sha256:c1"}}}}
	}
	ok := &gitops.Result{Commit: "abc"}
	tests := []struct {
		name     string
		outcomes []pipeline.EnvOutcome
		wantExit int // 0: no error
		wantEnvs []string
	}{
		{"none", nil, 0, nil},
		{"all succeeded", []pipeline.EnvOutcome{{Env: "dev", Result: ok}, {Env: "staging"}}, 0, nil},
		{"only gate blocks", []pipeline.EnvOutcome{{Env: "dev", Result: ok}, {Env: "staging", Err: blocked("staging")}, {Env: "prod", Err: fmt.Errorf("promoting: %w", blocked("prod"))}}, 3, []string{"staging", "prod"}},
		{"PR opened with one image blocked", []pipeline.EnvOutcome{{Env: "staging", Result: ok, Err: blocked("staging")}}, 3, []string{"staging"}},
		{"a block and a failure", []pipeline.EnvOutcome{{Env: "staging", Err: blocked("staging")}, {Env: "prod", Err: gitops.ErrConflict}}, 1, []string{"staging", "prod"}},
		{"a failure only", []pipeline.EnvOutcome{{Env: "prod", Err: gitops.ErrProtectedBranch}}, 1, []string{"prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pipeline.Err(tt.outcomes)
			if tt.wantExit == 0 {
				if err != nil {
					t.Fatalf("Err = %v, want nil", err)
				}
				return
			}
			var ee *pipeline.EnvError
			if !errors.As(err, &ee) {
				t.Fatalf("Err = %v, want *EnvError", err)
			}
			if exitCode(err) != tt.wantExit {
				t.Errorf("exit code = %d, want %d", exitCode(err), tt.wantExit)
			}
			var names []string
			for _, o := range ee.Failed {
				names = append(names, o.Env)
				if !strings.Contains(err.Error(), o.Env+": "+o.Err.Error()) {
					t.Errorf("error %q does not name %s and its cause", err, o.Env)
				}
			}
			if !slices.Equal(names, tt.wantEnvs) {
				t.Errorf("failed = %v, want %v", names, tt.wantEnvs)
			}
		})
	}
}

// TestExitCodeMapping: exit codes are decided here only, by error type,
// whatever wraps the error.
func TestExitCodeMapping(t *testing.T) {
	blocked := &gate.BlockedError{Env: "prod"}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"plain", errors.New("boom"), exitFailure},
		{"usage", usageErrorf("bad flag"), exitUsage},
		{"config", fmt.Errorf("loading: %w", &config.Error{}), exitUsage},
		{"planning", &detect.UsageError{Msg: "unknown service"}, exitUsage},
		{"event", &event.Error{Err: errors.New("bad payload")}, exitUsage},
		{"unknown environment", &promote.TargetError{Name: "qa"}, exitUsage},
		{"--set the registry contradicts", fmt.Errorf("promoting: %w", &promote.SetError{Ref: "r/cart:1@sha256:…", Err: errors.New("the registry says …")}), exitUsage},
		{"unknown revision", &git.UnknownRevisionError{Rev: "nope"}, exitUsage},
		{"build request", &pipeline.UsageError{Err: errors.New("unknown service")}, exitUsage},
		{"gate", fmt.Errorf("promoting: %w", blocked), exitBlocked},
		{"watch cycle blocked", fmt.Errorf("prod: promotion %w", gate.ErrBlocked), exitBlocked},
		{"unverified image", errors.Join(nil, fmt.Errorf("verifying: %w", &evidence.UnverifiedError{Image: "r@sha256:0", Reason: "not signed"})), exitBlocked},
		{"build partly failed", &build.FailedError{Failed: map[string]error{"api": blocked}}, exitFailure},
		{"scan DB", &scan.DBError{}, exitFailure},
		{"rewrite: image no file holds", &rewrite.UnheldError{Messages: []string{"--set x"}}, exitUsage},
		{"write-back: image no file of the environment pins", fmt.Errorf("promoting: %w", &gitops.UnknownImageError{Service: "ghost"}), exitUsage},
		{"git's own status is not ours", fmt.Errorf("git: %w", &exec.ExitError{}), exitFailure},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}
