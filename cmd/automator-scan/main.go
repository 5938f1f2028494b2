// Command automator-scan is automator's vulnerability scanner: Trivy linked
// as a library, in an executable of its own so that automator's other
// commands do not pay Trivy's start-up (see package internal/scan). automator
// starts it when a gate scans and speaks a small JSON protocol with it over
// stdin and stdout; it is not meant to be run by hand, except for
// `automator-scan --version`. This package is wiring only.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/scan/trivy"
)

// Set by the linker, as for automator: -X main.version=… -X main.commit=…
var (
	version = "dev"
	commit  = "unknown"
)

const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && (args[0] == "--version" || args[0] == "version"):
		fmt.Fprintf(stdout, "automator-scan %s (commit %s, %s)\n", version, commit, trivy.Version())
		return 0
	case len(args) > 0:
		fmt.Fprintf(stderr, "automator-scan %s: automator starts this scanner itself and talks to it over stdin and stdout; run `automator scan --help` to scan an image, or `automator-scan --version`\n", version)
		return exitUsage
	}
	// Images come from automator's loopback registry (anonymous, plain HTTP
	// on 127.0.0.1): the scanner never holds registry credentials.
	rc, err := registry.New(registry.WithKeychain(authn.NewMultiKeychain()), registry.WithUserAgent("automator-scan/"+version))
	if err != nil {
		fmt.Fprintln(stderr, "automator-scan:", err)
		return 1
	}
	srv := &scan.Server{Version: version, Scanner: trivy.Version(), Images: rc.Image,
		Open: func(ctx context.Context, s config.Scan, l *zap.Logger) (scan.Engine, error) {
			return trivy.New(ctx, trivy.WithConfig(s), trivy.WithLogger(l))
		}}
	if err := srv.Serve(ctx, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "automator-scan:", err)
		return 1
	}
	return 0
}
