// Package chatops runs automator commands written as pull request (or
// issue) comments: `/automator promote <env> [service…]`, `/automator
// rollback <env> [--to <commit>]`, `/automator status`, `/automator hold
// <env> [service] --reason <text>` and `/automator release <env>
// [service]`. It checks the
// commenter's repository permission through the API, acknowledges with a
// reaction, does the work through narrow interfaces (promotion, status)
// and answers with one comment that names the comment it answers, so a
// re-delivered event finds that answer and does nothing twice.
//
// Commands are a table (Commands): a verb is a row (its usage and argument
// parser) and a method of Work.
package chatops

import (
	"fmt"
	"strings"
)

// Prefix starts every command line.
const Prefix = "/automator"

// Command is one parsed command line.
type Command struct {
	// Name is the verb (promote, rollback, status, …); empty for a line
	// that is only the prefix.
	Name string
	// Args are the words after the verb, flags included, as written.
	Args []string
}

// Parse finds the first line of body that starts with Prefix. ok is false
// when the comment holds no command (it is then none of automator's
// business). A command inside a code block or a quote is not a command.
func Parse(body string) (cmd Command, ok bool) {
	fenced := false
	for _, line := range strings.Split(body, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "```") || strings.HasPrefix(l, "~~~") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(l, Prefix) {
			continue
		}
		f := strings.Fields(l)
		if f[0] != Prefix {
			continue // "/automatorx" is someone else's command
		}
		if len(f) > 1 {
			cmd.Name, cmd.Args = strings.ToLower(f[1]), f[2:]
		}
		return cmd, true
	}
	return Command{}, false
}

// Spec is one row of the command table.
type Spec struct {
	// Name is the verb; Usage its synopsis for the help reply.
	Name, Usage string
	// Parse turns the arguments into a request; a *UsageError answers the
	// commenter with the usage.
	Parse func(args []string) (Request, error)
}

// Request is a parsed command: what to do, to which environment.
type Request struct {
	Verb     string
	Env      string
	Services []string
	// To is the commit a rollback restores ("" = the one before the latest).
	To string
	// Reason is why a hold is placed (required for hold).
	Reason string
}

// UsageError is a command the table knows, with bad arguments.
type UsageError struct{ Usage, Msg string }

func (e *UsageError) Error() string { return e.Msg + "; usage: " + e.Usage }

// Commands is the command table, in help order. Each verb's permission is
// decided by Policy; its work by Handler.
var Commands = []Spec{
	{Name: "promote", Usage: Prefix + " promote <env> [service…]", Parse: parseEnvServices("promote")},
	{Name: "rollback", Usage: Prefix + " rollback <env> [--to <commit>]", Parse: parseRollback},
	{Name: "status", Usage: Prefix + " status", Parse: func(args []string) (Request, error) {
		if len(args) > 0 {
			return Request{}, &UsageError{Usage: Prefix + " status", Msg: "status takes no arguments"}
		}
		return Request{Verb: "status"}, nil
	}},
	{Name: "hold", Usage: holdUsage, Parse: parseHold},
	{Name: "release", Usage: releaseUsage, Parse: parseRelease},
}

const (
	holdUsage    = Prefix + " hold <env> [service] --reason <text>"
	releaseUsage = Prefix + " release <env> [service]"
)

// parseHold reads `hold <env> [service] --reason <text…>`: the reason is
// every word after --reason (or the rest of --reason=…), so it needs no
// quoting in a comment.
func parseHold(args []string) (Request, error) {
	r := Request{Verb: "hold"}
	var pos []string
	for i, a := range args {
		if a == "--reason" || strings.HasPrefix(a, "--reason=") {
			rest := append([]string{strings.TrimPrefix(strings.TrimPrefix(a, "--reason"), "=")}, args[i+1:]...)
			r.Reason = strings.TrimSpace(strings.Join(rest, " "))
			break
		}
		if strings.HasPrefix(a, "-") {
			return Request{}, &UsageError{Usage: holdUsage, Msg: fmt.Sprintf("unknown flag %q", a)}
		}
		pos = append(pos, a)
	}
	if err := envService(&r, pos, holdUsage); err != nil {
		return Request{}, err
	}
	if r.Reason == "" {
		return Request{}, &UsageError{Usage: holdUsage, Msg: "hold needs --reason: say why, for the people who find the hold"}
	}
	return r, nil
}

// parseRelease reads `release <env> [service]`.
func parseRelease(args []string) (Request, error) {
	r := Request{Verb: "release"}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return Request{}, &UsageError{Usage: releaseUsage, Msg: fmt.Sprintf("unknown flag %q", a)}
		}
	}
	if err := envService(&r, args, releaseUsage); err != nil {
		return Request{}, err
	}
	return r, nil
}

// envService fills r from `<env> [service]`.
func envService(r *Request, pos []string, usage string) error {
	switch len(pos) {
	case 0:
		return &UsageError{Usage: usage, Msg: r.Verb + " needs an environment"}
	case 1, 2:
		r.Env, r.Services = pos[0], pos[1:]
		return nil
	}
	return &UsageError{Usage: usage, Msg: fmt.Sprintf("%s takes one environment and at most one service, got %q", r.Verb, strings.Join(pos, " "))}
}

func lookup(name string) (Spec, bool) {
	for _, s := range Commands {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

func parseEnvServices(verb string) func([]string) (Request, error) {
	usage := Prefix + " " + verb + " <env> [service…]"
	return func(args []string) (Request, error) {
		if len(args) == 0 {
			return Request{}, &UsageError{Usage: usage, Msg: verb + " needs an environment"}
		}
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				return Request{}, &UsageError{Usage: usage, Msg: fmt.Sprintf("unknown flag %q", a)}
			}
		}
		return Request{Verb: verb, Env: args[0], Services: args[1:]}, nil
	}
}

func parseRollback(args []string) (Request, error) {
	usage := Prefix + " rollback <env> [--to <commit>]"
	r := Request{Verb: "rollback"}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--to" && i+1 < len(args):
			r.To = args[i+1]
			i++
		case strings.HasPrefix(a, "--to="):
			r.To = strings.TrimPrefix(a, "--to=")
		case strings.HasPrefix(a, "-"):
			return Request{}, &UsageError{Usage: usage, Msg: fmt.Sprintf("unknown or incomplete flag %q", a)}
		case r.Env == "":
			r.Env = a
		default:
			return Request{}, &UsageError{Usage: usage, Msg: fmt.Sprintf("unexpected argument %q", a)}
		}
	}
	if r.Env == "" {
		return Request{}, &UsageError{Usage: usage, Msg: "rollback needs an environment"}
	}
	return r, nil
}

// Help is the short reply to an unknown or malformed command.
func Help() string {
	var b strings.Builder
	b.WriteString("automator understands:\n\n")
	for _, s := range Commands {
		fmt.Fprintf(&b, "- `%s`\n", s.Usage)
	}
	return b.String()
}
