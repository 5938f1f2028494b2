package main

import (
	"os"
	"strings"

	"github.com/deployment-automator/automator/internal/git"
)

// actionsGitEnv is what the process environment needs in GitHub Actions for
// git to work in the workspace: the runner mounts it owned by its own user
// while a container action runs as root, and git refuses a repository owned
// by someone else ("detected dubious ownership", exit 128). The workspace —
// and only it — is marked safe through git's environment configuration
// (internal/git.SafeDirectoryEnv), so no config file is written; outside
// Actions nothing is added.
func actionsGitEnv(getenv func(string) string, environ []string) []string {
	if getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	return git.SafeDirectoryEnv(environ, getenv("GITHUB_WORKSPACE"))
}

// setProcessEnv applies KEY=VALUE entries to this process's environment,
// which every git child process inherits.
func setProcessEnv(kvs []string) error {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
