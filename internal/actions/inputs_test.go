package actions

import (
	"slices"
	"strings"
	"testing"
)

// TestArgsServices: the services input names services, or "all", which
// becomes --all where the subcommand has it and nothing where building
// every service is the default (build).
func TestArgsServices(t *testing.T) {
	flags := map[string][]string{
		"run":   {"env", "service", "all", "dry-run"},
		"build": {"env", "service", "results"},
	}
	for _, tc := range []struct{ command, services, want string }{
		{"run", "cart, checkout", "run --log-level info --service cart --service checkout"},
		{"run", "all", "run --log-level info --all"},
		{"run", "ALL", "run --log-level info --all"},
		{"build", "all", "build --log-level info"},
		{"build", "cart", "build --log-level info --service cart"},
	} {
		env := map[string]string{"INPUT_COMMAND": tc.command, "INPUT_SERVICES": tc.services, "INPUT_LOG-LEVEL": "info"}
		got := Args(func(k string) string { return env[k] }, func(args []string) (func(string) bool, bool) {
			f, ok := flags[args[0]]
			return func(flag string) bool { return slices.Contains(f, flag) }, ok
		})
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s with services %q: %q, want %q", tc.command, tc.services, got, tc.want)
		}
	}
}
