package main

import (
	"github.com/deployment-automator/automator/internal/config"
	ghclient "github.com/deployment-automator/automator/internal/github"
)

// announceTokenFallback warns, in the log and the job summary, when a run in
// GitHub Actions writes back with a token instead of a GitHub App.
func (a *app) announceTokenFallback(cfg config.GitHub) error {
	note := ghclient.TokenFallback(cfg, a.getenv)
	if note == "" {
		return nil
	}
	a.logger.Warn(note)
	return a.step().AppendSummary("> **Warning:** " + note + ".\n")
}
