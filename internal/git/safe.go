package git

import (
	"os"
	"strconv"
	"strings"
)

// SafeDirectoryEnv returns the environment entries that make git trust the
// work trees dirs despite its ownership check ("detected dubious
// ownership"), to be added to environ (the environment of the git processes).
//
// A container action runs as root while the runner mounts the workspace
// owned by its own user (uid 1001), and git refuses to work in a repository
// another user owns. The entries use git's GIT_CONFIG_COUNT/KEY_n/VALUE_n
// environment configuration (command scope, which git honours for
// safe.directory), appended after any entries environ already holds, so
// nothing is written to a config file and only this process and its children
// are affected, for exactly these directories.
func SafeDirectoryEnv(environ []string, dirs ...string) []string {
	n := 0
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GIT_CONFIG_COUNT="); ok {
			if c, err := strconv.Atoi(v); err == nil && c > 0 {
				n = c
			}
		}
	}
	var out []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		i := strconv.Itoa(n)
		out = append(out, "GIT_CONFIG_KEY_"+i+"=safe.directory", "GIT_CONFIG_VALUE_"+i+"="+d)
		n++
	}
	if len(out) == 0 {
		return nil
	}
	return append([]string{"GIT_CONFIG_COUNT=" + strconv.Itoa(n)}, out...)
}

// ActionsWorkspaceEnv is what the process environment needs in GitHub
// Actions for git to work in the workspace: the runner mounts it owned by
// its own user while a container action runs as root, and git refuses a
// repository owned by someone else ("detected dubious ownership", exit 128).
// The workspace — and only it — is marked safe through SafeDirectoryEnv, so
// no config file is written; outside Actions nothing is added.
func ActionsWorkspaceEnv(getenv func(string) string, environ []string) []string {
	if getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	return SafeDirectoryEnv(environ, getenv("GITHUB_WORKSPACE"))
}

// SetProcessEnv applies KEY=VALUE entries to this process's environment,
// which every git child process inherits.
func SetProcessEnv(kvs []string) error {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
