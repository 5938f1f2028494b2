package pipeline

import (
	"errors"
	"testing"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/gate"
)

// TestRunErr: failures first (exit 1), then gate blocks (exit 3).
func TestRunErr(t *testing.T) {
	failedBuild := &build.FailedError{Failed: map[string]error{"api": errors.New("exit status 1")}}
	blockedBuild := &gate.BlockedError{Images: []gate.Blocked{{Service: "cart"}}}
	blockedEnv := EnvOutcome{Env: "prod", Err: &gate.BlockedError{Env: "prod"}}
	failedEnv := EnvOutcome{Env: "dev", Err: errors.New("502")}
	tests := []struct {
		name     string
		buildErr error
		envs     []EnvOutcome
		want     func(error) bool
	}{
		{"nothing failed", nil, []EnvOutcome{{Env: "dev"}}, func(err error) bool { return err == nil }},
		{"a failed build wins over everything", failedBuild, []EnvOutcome{failedEnv, blockedEnv}, func(err error) bool { return err == failedBuild }},
		{"a failed write-back wins over a blocked build", blockedBuild, []EnvOutcome{failedEnv}, func(err error) bool {
			var ee *EnvError
			return errors.As(err, &ee) && !ee.OnlyBlocked()
		}},
		{"a blocked build wins over blocked write-backs", blockedBuild, []EnvOutcome{blockedEnv}, func(err error) bool { return err == blockedBuild }},
		{"only blocked write-backs", nil, []EnvOutcome{blockedEnv}, func(err error) bool {
			var ee *EnvError
			return errors.As(err, &ee) && ee.OnlyBlocked()
		}},
	}
	for _, tt := range tests {
		if err := RunErr(tt.buildErr, tt.envs); !tt.want(err) {
			t.Errorf("%s: RunErr = %v", tt.name, err)
		}
	}
}
