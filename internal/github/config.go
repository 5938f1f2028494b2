package github

import (
	"fmt"
	"os"

	"github.com/deployment-automator/automator/internal/config"
)

// ConfigOptions turns the github section of automator.yaml and the process
// environment into Options: the API URL (github.apiURL, then
// $GITHUB_API_URL), and App credentials when github.app is set, else the
// token from github.tokenEnv (default GITHUB_TOKEN). Errors name the key or
// variable involved, never its value.
func ConfigOptions(cfg config.GitHub, getenv func(string) string) ([]Option, error) {
	api := cfg.APIURL
	if api == "" {
		api = getenv("GITHUB_API_URL")
	}
	opts := []Option{WithAPIURL(api)}
	if app := cfg.App; app != nil {
		var key []byte
		switch {
		case app.PrivateKeyEnv != "" && getenv(app.PrivateKeyEnv) != "":
			key = []byte(getenv(app.PrivateKeyEnv))
		case app.PrivateKeyFile != "":
			b, err := os.ReadFile(app.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("github.app.privateKeyFile: reading %q: %w", app.PrivateKeyFile, err)
			}
			key = b
		default:
			return nil, fmt.Errorf("github.app: no private key: set privateKeyFile, or privateKeyEnv to a variable that is set")
		}
		return append(opts, WithApp(app.ID, key, app.InstallationID)), nil
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
