package main

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"testing"
)

// Only the documented codes leave the process: an error whose chain holds a
// child's status (git's 128, a builder's 125) exits 1.
func TestExitCodeIsAlwaysDocumented(t *testing.T) {
	child := exec.Command("sh", "-c", "exit 128").Run()
	var ee *exec.ExitError
	if !errors.As(child, &ee) {
		t.Fatalf("sh -c 'exit 128' = %v", child)
	}
	for _, err := range []error{child, fmt.Errorf("planning: %w", child)} {
		if got := exitCode(err); got != exitFailure {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, exitFailure)
		}
	}
	if got := exitCode(usageErrorf("bad: %w", child)); got != exitUsage {
		t.Errorf("a usage error wrapping a child's status = %d, want %d", got, exitUsage)
	}
}

// In Actions the workspace is trusted by git (it belongs to the runner's
// user, not to root), appended after the caller's own GIT_CONFIG entries;
// outside Actions nothing changes.
func TestActionsGitEnv(t *testing.T) {
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/github/workspace"}
	got := actionsGitEnv(func(k string) string { return env[k] }, []string{"GIT_CONFIG_COUNT=1"})
	want := []string{"GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_1=safe.directory", "GIT_CONFIG_VALUE_1=/github/workspace"}
	if !slices.Equal(got, want) {
		t.Errorf("actionsGitEnv = %q, want %q", got, want)
	}
	env["GITHUB_ACTIONS"] = ""
	if got := actionsGitEnv(func(k string) string { return env[k] }, nil); got != nil {
		t.Errorf("outside Actions: %q", got)
	}
}
