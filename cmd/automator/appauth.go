package main

import (
	"github.com/deployment-automator/automator/internal/config"
	ghclient "github.com/deployment-automator/automator/internal/github"
)

// tokenFallbackNote is said, in GitHub Actions, when write-back uses a token
// because no GitHub App is configured: the consequences are easy to miss.
const tokenFallbackNote = "no GitHub App configured (app-id/app-private-key inputs or github.app): writing to the " +
	"manifests repository with the token (the workflow token unless github-token is set); pull requests it opens " +
	"trigger no workflows and its commits are not verified"

// announceTokenFallback warns, in the log and the job summary, when a run in
// GitHub Actions writes back with a token instead of a GitHub App.
func (a *app) announceTokenFallback(cfg config.GitHub) error {
	if a.getenv("GITHUB_ACTIONS") != "true" || ghclient.UsesApp(cfg, a.getenv) {
		return nil
	}
	a.logger.Warn(tokenFallbackNote)
	return a.step().AppendSummary("> **Warning:** " + tokenFallbackNote + ".\n")
}
