// Command automator promotes container images from an application monorepo
// into a GitOps manifests repository. This package is wiring only: each
// subcommand parses its flags and runs over internal/factory's lazily built
// dependencies and the internal stage packages; exit codes are decided here.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/deployment-automator/automator/internal/git"
)

// Set by the linker: -X main.version=… -X main.commit=…
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	if err := git.SetProcessEnv(git.ActionsWorkspaceEnv(os.Getenv, os.Environ())); err != nil {
		fmt.Fprintln(os.Stderr, "Error: setting up git for the workspace:", err)
		os.Exit(exitFailure)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
