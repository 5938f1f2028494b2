package main

import (
	"errors"
	"fmt"
)

// Exit codes, documented in README and --help.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitBlocked = 3
)

// exitCoder is implemented by typed errors that decide the process exit code
// (config.Error → 2, a gate's blocked error → 3), so that this package needs
// no knowledge of each stage's error types.
type exitCoder interface{ ExitCode() int }

// usageError marks bad command-line usage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }
func (e *usageError) ExitCode() int { return exitUsage }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		// Only documented codes leave the process: a child's status that
		// slipped into the chain (*exec.ExitError has ExitCode too: git's
		// 128) is a failure like any other.
		if c := ec.ExitCode(); c >= exitFailure && c <= exitBlocked {
			return c
		}
	}
	return exitFailure
}

const exitCodesHelp = `Exit codes:
  0  success (including "nothing to do")
  1  failure (a build, push, scan or write-back failed)
  2  usage or configuration error
  3  blocked by a vulnerability gate`
