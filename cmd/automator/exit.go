package main

import (
	"errors"
	"fmt"

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
)

// Exit codes, documented in README and --help.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitBlocked = 3
)

// usageError marks bad command-line usage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCode is the one place exit codes are decided. A partly failed build
// and a write-back that failed for more than the gate are failures whatever
// they wrap; then usage and configuration errors; then gate blocks and
// images whose signature or attestations fail verification.
func exitCode(err error) int {
	var (
		fe *build.FailedError
		ee *pipeline.EnvError
		ue *evidence.UnverifiedError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &fe):
		return exitFailure
	case errors.As(err, &ee):
		if ee.OnlyBlocked() {
			return exitBlocked
		}
		return exitFailure
	case isUsage(err):
		return exitUsage
	case errors.Is(err, gate.ErrBlocked), errors.As(err, &ue):
		return exitBlocked
	}
	return exitFailure
}

// isUsage reports whether err is bad usage or configuration: a flag, the
// config file, the event payload, an unknown revision, service or
// environment, an explicit image the registry contradicts.
func isUsage(err error) bool {
	var (
		ue *usageError
		ce *config.Error
		de *detect.UsageError
		ev *event.Error
		pe *pipeline.UsageError
		te *promote.TargetError
		re *git.UnknownRevisionError
		rh *rewrite.UnheldError
		ui *gitops.UnknownImageError
		se *promote.SetError
	)
	return errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &de) || errors.As(err, &ev) ||
		errors.As(err, &pe) || errors.As(err, &te) || errors.As(err, &re) || errors.As(err, &rh) || errors.As(err, &ui) ||
		errors.As(err, &se)
}

var exitCodesHelp = help("exit.codes.help")
