package build

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// requireBinary skips when name is not installed, except in CI where that is a failure.
func requireBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("SKIPPING: %s not installed and CI is not set", name)
	}
}

// TestBuildahReal runs the real buildah (skipped outside CI when it is not installed).
func TestBuildahReal(t *testing.T) {
	requireBinary(t, "buildah")
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch AS base\nARG GREETING\nCOPY hello.txt /hello.txt\nFROM base AS final\nCOPY other.txt /other.txt\n")
	write("Bad.Dockerfile", "FROM scratch\nCOPY missing-file.txt /\n")
	write("hello.txt", "hello\n")
	write("other.txt", "other\n")

	b, err := New(ctx, BackendBuildah)
	if err != nil {
		t.Fatal(err)
	}
	storage := b.(*Buildah).owned
	labels := Metadata{Source: "https://github.com/acme/shop", Revision: testSHA, Version: "1.0.0", Title: "hello"}.Labels(nil)

	t.Run("image with labels and target", func(t *testing.T) {
		res, err := b.Build(ctx, Request{Service: "hello", Context: dir, Output: filepath.Join(t.TempDir(), "l"), Target: "base", Labels: labels, Args: map[string]string{"GREETING": "hi"}})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := layout.FromPath(res.Layout)
		img, err := p.Image(res.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range labels {
			if cf.Config.Labels[k] != v {
				t.Errorf("config label %s = %q, want %q", k, cf.Config.Labels[k], v)
			}
		}
		layers, _ := img.Layers()
		if len(layers) != 1 {
			t.Errorf("target base has %d layers, want 1 (the second stage must not be built)", len(layers))
		}
	})
	t.Run("multi-platform index", func(t *testing.T) {
		res, err := b.Build(ctx, Request{Service: "hello", Context: dir, Output: filepath.Join(t.TempDir(), "l"), Platforms: []string{"linux/amd64", "linux/arm64"}, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsIndex() {
			t.Fatalf("media type %s, want an index", res.MediaType)
		}
		p, _ := layout.FromPath(res.Layout)
		idx, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		child, err := idx.ImageIndex(res.Digest)
		if err != nil {
			t.Fatal(err)
		}
		im, _ := child.IndexManifest()
		var archs []string
		for _, m := range im.Manifests {
			archs = append(archs, m.Platform.Architecture)
		}
		slices.Sort(archs)
		if strings.Join(archs, ",") != "amd64,arm64" {
			t.Errorf("platforms = %v, want amd64,arm64", archs)
		}
	})
	t.Run("bad Dockerfile", func(t *testing.T) {
		_, err := b.Build(ctx, Request{Service: "broken", Context: dir, Dockerfile: filepath.Join(dir, "Bad.Dockerfile"), Output: filepath.Join(t.TempDir(), "l")})
		var berr *Error
		if !errors.As(err, &berr) || !strings.Contains(err.Error(), "missing-file.txt") {
			t.Fatalf("err = %v, want *Error naming the missing file", err)
		}
	})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(storage); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("buildah storage %s left behind: %v", storage, err)
	}
}
