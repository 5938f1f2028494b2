package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestDockerfile checks the properties action.yml and deploy/ rely on, since
// no image can be built in unit tests: a multi-stage static build with
// GOEXPERIMENT=jsonv2, OCI labels, no USER (GitHub's documentation for
// Docker container actions: run as the default root user, whom the runner's
// workspace and file-command files, owned by the runner user, let write; the
// watcher Deployment sets its own non-root user), no HEALTHCHECK, and an
// entrypoint that is the binary, with its scanner automator-scan built
// and installed beside it (scan.Locate looks there first).
func TestDockerfile(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	var froms, users, entrypoints []string
	var all strings.Builder
	for _, n := range res.AST.Children {
		all.WriteString(n.Original + "\n")
		switch strings.ToLower(n.Value) {
		case "from":
			froms = append(froms, n.Original)
		case "user":
			users = append(users, n.Next.Value)
		case "entrypoint":
			entrypoints = append(entrypoints, n.Original)
		case "healthcheck":
			t.Errorf("Dockerfile has a HEALTHCHECK at line %d; the action entrypoint must not", n.StartLine)
		}
	}
	text := all.String()
	if len(froms) < 2 {
		t.Errorf("want a multi-stage build, got %d stages", len(froms))
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOEXPERIMENT=jsonv2", "-trimpath", "./cmd/automator-scan", "/out/automator-scan /usr/local/bin/", "org.opencontainers.image.source", "org.opencontainers.image.revision", "buildah", "docker-buildx"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if len(users) > 0 {
		t.Errorf("the image sets USER %v: GitHub runs container actions as root and says not to set USER", users)
	}
	deploy, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(deploy), "runAsNonRoot: true") {
		t.Error("the watcher Deployment must run as a non-root user (runAsNonRoot), since the image does not set one")
	}
	if len(entrypoints) != 1 || !strings.Contains(entrypoints[0], "/usr/local/bin/automator") {
		t.Errorf("entrypoint = %v", entrypoints)
	}
}
