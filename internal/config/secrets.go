package config

import "os"

// Secrets returns the values of every secret the config references — the
// registries' passwords, the GitHub token, the App's private key — read
// from the environment (getenv) or the key file, so that a redactor can
// learn them before anything prints them. Unset ones are skipped.
func (c *Config) Secrets(getenv func(string) string) []string {
	var out []string
	add := func(v string) {
		if v != "" {
			out = append(out, v)
		}
	}
	for _, r := range c.Registries {
		if r.PasswordEnv != "" {
			add(getenv(r.PasswordEnv))
		}
	}
	if c.GitHub.TokenEnv != "" {
		add(getenv(c.GitHub.TokenEnv))
	}
	if app := c.GitHub.App; app != nil {
		if app.PrivateKeyEnv != "" {
			add(getenv(app.PrivateKeyEnv))
		}
		if app.PrivateKeyFile != "" {
			if b, err := os.ReadFile(app.PrivateKeyFile); err == nil {
				add(string(b))
			}
		}
	}
	return out
}
