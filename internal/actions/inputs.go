package actions

import "strings"

// The container action (action.yml) runs the image's entrypoint with no
// arguments; the runner passes the step's inputs as INPUT_<NAME> variables.
// Args turns them into the command line the CLI would take, so the action
// and the CLI are one code path.

// FlagLookup finds the subcommand args name and returns whether it takes a
// flag; ok is false when args name no subcommand.
type FlagLookup func(args []string) (has func(flag string) bool, ok bool)

// Args is the command line for the step's inputs: the command input
// (default run), then --config, --log-level and the inputs the subcommand
// has flags for (environments → --env, services → --service, or --all for
// services: all; results, dry-run), then the args input verbatim.
func Args(getenv func(string) string, lookup FlagLookup) []string {
	input := func(name string) string {
		return strings.TrimSpace(getenv("INPUT_" + strings.ToUpper(name)))
	}
	command := input("command")
	if command == "" {
		command = "run"
	}
	args := strings.Fields(command)
	has, ok := lookup(args)
	if !ok {
		// Let the CLI report the unknown command as a usage error.
		return append(args, strings.Fields(input("args"))...)
	}
	if v := input("config"); v != "" {
		args = append(args, "--config", v)
	}
	if v := input("log-level"); v != "" {
		args = append(args, "--log-level", v)
	}
	services := "services"
	if strings.EqualFold(input("services"), "all") {
		// "all" selects every service: --all where the subcommand
		// chooses (plan, run); build builds every service without
		// --service.
		if has("all") {
			args = append(args, "--all")
		}
		services = ""
	}
	for _, m := range []struct{ input, flag string }{
		{"environments", "env"},
		{services, "service"},
	} {
		if m.input == "" {
			continue
		}
		if v := input(m.input); v != "" && has(m.flag) {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					args = append(args, "--"+m.flag, item)
				}
			}
		}
	}
	if v := input("results"); v != "" && has("results") {
		args = append(args, "--results", v)
	}
	if input("dry-run") == "true" && has("dry-run") {
		args = append(args, "--dry-run")
	}
	return append(args, strings.Fields(input("args"))...)
}

// Env lets the action's inputs stand in for the environment variables the
// CLI reads, without touching the process environment.
func Env(getenv func(string) string) func(string) string {
	aliases := map[string]string{
		"GITHUB_TOKEN":              "INPUT_GITHUB-TOKEN",
		"AUTOMATOR_APP_ID":          "INPUT_APP-ID",
		"AUTOMATOR_APP_PRIVATE_KEY": "INPUT_APP-PRIVATE-KEY",
	}
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		if alias, ok := aliases[key]; ok {
			return getenv(alias)
		}
		return ""
	}
}
