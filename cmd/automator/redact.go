package main

import "github.com/deployment-automator/automator/internal/actions"

// step is the running step's file commands ($GITHUB_OUTPUT and
// $GITHUB_STEP_SUMMARY; none outside Actions), every value scrubbed by the
// redactor, so outputs and the summary are held to the same rule as logs.
func (a *app) step() actions.Step {
	return actions.Step{
		OutputPath:  a.getenv("GITHUB_OUTPUT"),
		SummaryPath: a.getenv("GITHUB_STEP_SUMMARY"),
		Scrub:       a.redactor.Redact,
	}
}
