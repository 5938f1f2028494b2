package github

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/deployment-automator/automator/internal/config"
)

// Environment variables that override github.app, so that a workflow can
// pass the App's credentials as the action's app-id and app-private-key
// inputs (cmd/automator maps INPUT_APP-ID and INPUT_APP-PRIVATE-KEY to them)
// without a github.app section, or use another App than the config names.
const (
	EnvAppID         = "AUTOMATOR_APP_ID"
	EnvAppPrivateKey = "AUTOMATOR_APP_PRIVATE_KEY"
)

// ConfigOptions turns the github section of automator.yaml and the process
// environment into Options: the API URL (github.apiURL, then
// $GITHUB_API_URL), and App credentials when an App is configured (see
// UsesApp; $AUTOMATOR_APP_ID and $AUTOMATOR_APP_PRIVATE_KEY override
// github.app.id and its key), else the token from github.tokenEnv (default
// GITHUB_TOKEN). Errors name the key or variable involved, never its value.
func ConfigOptions(cfg config.GitHub, getenv func(string) string) ([]Option, error) {
	api := cfg.APIURL
	if api == "" {
		api = getenv("GITHUB_API_URL")
	}
	opts := []Option{WithAPIURL(api)}
	id, installation, err := appID(cfg, getenv)
	if err != nil {
		return nil, err
	}
	if id != 0 {
		key, err := appKey(cfg, getenv)
		if err != nil {
			return nil, err
		}
		return append(opts, WithApp(id, key, installation)), nil
	}
	if getenv(EnvAppPrivateKey) != "" {
		return nil, fmt.Errorf("an App private key is set (app-private-key, $%s) but no App ID: set the app-id input, $%s or github.app.id", EnvAppPrivateKey, EnvAppID)
	}
	env := cfg.TokenEnv
	if env == "" {
		env = "GITHUB_TOKEN"
	}
	tok := getenv(env)
	if tok == "" {
		return nil, fmt.Errorf("github.tokenEnv: $%s is empty: %w", env, ErrNoCredentials)
	}
	return append(opts, WithToken(tok)), nil
}

// UsesApp reports whether ConfigOptions authenticates as a GitHub App (from
// github.app or the app-id input) rather than with a token: callers warn
// when a workflow falls back to its token, whose pull requests trigger no
// workflows and whose commits are not verified.
func UsesApp(cfg config.GitHub, getenv func(string) string) bool {
	id, _, err := appID(cfg, getenv)
	return err == nil && id != 0
}

// tokenFallbackNote is what TokenFallback says: the consequences of writing
// with a token are easy to miss.
const tokenFallbackNote = "no GitHub App configured (app-id/app-private-key inputs or github.app): writing to the " +
	"manifests repository with the token (the workflow token unless github-token is set); pull requests it opens " +
	"trigger no workflows and its commits are not verified"

// TokenFallback is the warning a run in GitHub Actions ($GITHUB_ACTIONS)
// owes its users when it writes back with a token instead of a GitHub App
// (UsesApp); "" when there is nothing to say.
func TokenFallback(cfg config.GitHub, getenv func(string) string) string {
	if getenv("GITHUB_ACTIONS") != "true" || UsesApp(cfg, getenv) {
		return ""
	}
	return tokenFallbackNote
}

// appID is the App ID ($AUTOMATOR_APP_ID, then github.app.id; 0: no App)
// and the installation ID configured for it.
func appID(cfg config.GitHub, getenv func(string) string) (id, installation int64, err error) {
	if v := strings.TrimSpace(getenv(EnvAppID)); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, fmt.Errorf("app-id ($%s): %q is not a GitHub App ID", EnvAppID, v)
		}
		if cfg.App != nil && cfg.App.ID == n {
			installation = cfg.App.InstallationID
		}
		return n, installation, nil
	}
	if cfg.App != nil {
		return cfg.App.ID, cfg.App.InstallationID, nil
	}
	return 0, 0, nil
}

// appKey is the App's private key: $AUTOMATOR_APP_PRIVATE_KEY, then
// github.app.privateKeyEnv, then github.app.privateKeyFile.
func appKey(cfg config.GitHub, getenv func(string) string) ([]byte, error) {
	if v := getenv(EnvAppPrivateKey); v != "" {
		return []byte(v), nil
	}
	if app := cfg.App; app != nil {
		switch {
		case app.PrivateKeyEnv != "" && getenv(app.PrivateKeyEnv) != "":
			return []byte(getenv(app.PrivateKeyEnv)), nil
		case app.PrivateKeyFile != "":
			b, err := os.ReadFile(app.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("github.app.privateKeyFile: reading %q: %w", app.PrivateKeyFile, err)
			}
			return b, nil
		}
		return nil, fmt.Errorf("github.app: no private key: set privateKeyFile, privateKeyEnv to a variable that is set, or the app-private-key input ($%s)", EnvAppPrivateKey)
	}
	return nil, fmt.Errorf("an App ID is set (app-id, $%s) but no private key: set the app-private-key input ($%s) or github.app.privateKeyEnv/privateKeyFile", EnvAppID, EnvAppPrivateKey)
}

// ServerURL is the web base URL for links: github.serverURL, then
// $GITHUB_SERVER_URL, then https://github.com.
func ServerURL(cfg config.GitHub, getenv func(string) string) string {
	for _, v := range []string{cfg.ServerURL, getenv("GITHUB_SERVER_URL")} {
		if v != "" {
			return v
		}
	}
	return "https://github.com"
}
