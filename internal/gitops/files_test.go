package gitops

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected-* from the current output (review by eye)")

func readEnvFiles(t *testing.T, dir string) []file {
	t.Helper()
	var files []file
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, file{Path: filepath.ToSlash(rel), Content: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRewriteFilesEnvironment (issue 13, unknown images and duplicate pins):
// an update whose image no file of the environment pins fails with a
// *UnknownImageError naming it and the files searched, nothing written; a
// kustomize images entry is inserted only for a configured service whose
// image no other file pins.
func TestRewriteFilesEnvironment(t *testing.T) {
	const podinfo, redis = "ghcr.io/stefanprodan/podinfo", "redis"
	env := config.Environment{Name: "production", Repo: "acme/manifests"}
	configured := map[string]string{"podinfo": podinfo, "redis": redis, "cache": "ghcr.io/acme/cache"}
	for _, tc := range []struct {
		name     string
		services map[string]string
		updates  []Update
		// unknown is the service of the expected *UnknownImageError; "" = success.
		unknown string
		reason  string
	}{
		{"pinned in values: no duplicate kustomize entry", configured,
			[]Update{{Service: "podinfo", Repository: podinfo, Tag: "6.15.0", Digest: digest("a")}}, "", ""},
		{"configured service pinned nowhere: kustomize entry inserted", configured,
			[]Update{{Service: "cache", Repository: "ghcr.io/acme/cache", Tag: "1.0.0", Digest: digest("b")}, {Service: "redis", Repository: redis, Tag: "8.8.1"}}, "", ""},
		{"unknown service: nothing inserted", configured,
			[]Update{{Service: "ghost", Repository: "ghcr.io/acme/ghost", Tag: "1.0.0", Digest: digest("c")}}, "ghost", "not configured"},
		{"no configuration passed: nothing inserted", nil,
			[]Update{{Service: "cache", Repository: "ghcr.io/acme/cache", Tag: "1.0.0"}}, "cache", "not configured"},
		{"misspelt repository is reported with the near miss", configured,
			[]Update{{Service: "podinfo", Repository: "docker.io/stefanprodan/podinfo", Tag: "6.15.0"}}, "podinfo", "charts/podinfo/values-prod.yaml:10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "podinfo-production")
			files := readEnvFiles(t, filepath.Join(dir, "original"))
			req := Request{Env: env, Services: tc.services, Updates: tc.updates}
			eds, err := rewriteFiles(req, files, tc.updates)
			if tc.unknown != "" {
				var ue *UnknownImageError
				if !errors.As(err, &ue) || ue.Service != tc.unknown {
					t.Fatalf("err = %v (%T), want *UnknownImageError for %s", err, err, tc.unknown)
				}
				for _, want := range []string{tc.unknown, "charts/podinfo/values-prod.yaml", "deploy/overlays/production/kustomization.yaml", tc.reason} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				if eds != nil {
					t.Errorf("edits returned with the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			exp := filepath.Join(dir, "expected-"+strings.ReplaceAll(strings.SplitN(tc.name, ":", 2)[0], " ", "-"))
			if *update {
				_ = os.RemoveAll(exp)
				for _, e := range eds {
					p := filepath.Join(exp, filepath.FromSlash(e.Path))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, e.New, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want := readEnvFiles(t, exp)
			if len(want) != len(eds) {
				t.Fatalf("%d files edited, want %d", len(eds), len(want))
			}
			for i, w := range want {
				if eds[i].Path != w.Path || string(eds[i].New) != string(w.Content) {
					t.Errorf("%s:\n%s\nwant %s:\n%s", eds[i].Path, eds[i].New, w.Path, w.Content)
				}
			}
		})
	}
}

// TestConfiguredImages: services are configured for every environment,
// watch rules for the environments they list; CheckServices names an
// unknown service.
func TestConfiguredImages(t *testing.T) {
	cfg := &config.Config{
		Services: []config.Service{{Name: "cart", Image: "ghcr.io/acme/cart"}},
		Watch:    &config.Watch{Rules: []config.WatchRule{{Name: "nginx", Image: "nginx", Environments: []string{"dev"}}}},
	}
	if got := ConfiguredImages(cfg, "dev"); len(got) != 2 || got["nginx"] != "nginx" || got["cart"] != "ghcr.io/acme/cart" {
		t.Errorf("dev: %v", got)
	}
	if got := ConfiguredImages(cfg, "prod"); len(got) != 1 || got["cart"] == "" {
		t.Errorf("prod: %v", got)
	}
	if err := CheckServices(cfg, "prod", []Update{{Service: "cart"}}); err != nil {
		t.Errorf("cart: %v", err)
	}
	err := CheckServices(cfg, "prod", []Update{{Service: "nginx", Repository: "nginx"}})
	var ue *UnknownImageError
	if !errors.As(err, &ue) || ue.Service != "nginx" || !strings.Contains(err.Error(), `"prod"`) {
		t.Errorf("err = %v", err)
	}
}
