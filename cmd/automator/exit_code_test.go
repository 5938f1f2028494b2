package main

import (
	"errors"
	"fmt"
	"os/exec"
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
