package config

import (
	"io/fs"
	"os"
	"path/filepath"
)

// SecretValues returns the value of every secret the config refers to:
// registry passwords, the GitHub token and App private key, the webhook
// secret, the signing key and its password, and every build secret
// (services[].secrets[].env and .file). The caller registers them with the
// redactor before anything can print them: a builder that prints a build
// secret, an error that quotes it. getenv
// reads the environment; relative secret files are read from the repository
// the config was loaded with. Unset variables and unreadable files are
// skipped (the stage that needs them reports that).
func (c *Config) SecretValues(getenv func(string) string) []string {
	var envs, files []string
	for _, r := range c.Registries {
		envs = append(envs, r.PasswordEnv)
	}
	tokenEnv := c.GitHub.TokenEnv
	if tokenEnv == "" {
		tokenEnv = "GITHUB_TOKEN"
	}
	envs = append(envs, tokenEnv)
	if app := c.GitHub.App; app != nil {
		envs = append(envs, app.PrivateKeyEnv)
	}
	if c.Watch != nil {
		envs = append(envs, c.Watch.WebhookSecretEnv)
	}
	if c.Sign != nil {
		envs = append(envs, c.Sign.KeyEnv, c.Sign.Password())
		files = append(files, c.Sign.KeyFile)
	}
	for _, s := range c.Services {
		for _, sec := range s.Secrets {
			envs = append(envs, sec.Env)
			files = append(files, sec.File)
		}
	}
	var out []string
	if app := c.GitHub.App; app != nil && app.PrivateKeyFile != "" {
		// Read from the working directory, as internal/github reads it.
		if b, err := os.ReadFile(app.PrivateKeyFile); err == nil && len(b) > 0 {
			out = append(out, string(b))
		}
	}
	for _, e := range envs {
		if e == "" {
			continue
		}
		if v := getenv(e); v != "" {
			out = append(out, v)
		}
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if v, ok := c.readSecretFile(f); ok {
			out = append(out, v)
		}
	}
	return out
}

// readSecretFile reads a build secret file: an absolute path from the file
// system, a relative one from the repository (where the build resolves it).
func (c *Config) readSecretFile(path string) (string, bool) {
	var b []byte
	var err error
	switch {
	case filepath.IsAbs(path):
		b, err = os.ReadFile(path)
	case c.repo != nil:
		b, err = fs.ReadFile(c.repo, filepath.ToSlash(filepath.Clean(path)))
	default:
		return "", false
	}
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}
