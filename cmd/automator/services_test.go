package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/pipeline"
)

// TestSelectServicesIncludesDiscovered: build and run see the services that
// discover creates, not only the explicit entries.
func TestSelectServicesIncludesDiscovered(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"src/a/Dockerfile", "src/b/Dockerfile", "tools/c/Dockerfile"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "automator.yaml")
	if err := os.WriteFile(cfgPath, []byte("version: 1\nregistry: r.example/acme\nservices:\n  - {name: c, context: tools/c, image: r.example/acme/c, mirrors: [m.example/c]}\ndiscover: {root: src}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	all, err := pipeline.SelectServices(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range all {
		names = append(names, s.Name+"="+s.Image)
	}
	if got, want := len(all), 3; got != want || all[0].Name != "c" || len(all[0].Mirrors) != 1 {
		t.Fatalf("services = %v (explicit c with its mirror first, then discovered a, b)", names)
	}
	if all[1].Image != "r.example/acme/a" || all[1].Context != "src/a" {
		t.Errorf("discovered service = %+v", all[1])
	}
	one, err := pipeline.SelectServices(cfg, []string{"b"})
	if err != nil || len(one) != 1 || one[0].Name != "b" {
		t.Errorf("pipeline.SelectServices(b) = %v, %v", one, err)
	}
	if _, err := pipeline.SelectServices(cfg, []string{"zzz"}); exitCode(err) != exitUsage {
		t.Errorf("unknown service: err %v, exit %d, want 2", err, exitCode(err))
	}
}
