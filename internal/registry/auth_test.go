package registry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/deployment-automator/automator/internal/config"
)

func TestCredentialChain(t *testing.T) {
	dockerCfg := t.TempDir()
	// Docker config: credentials for docker.example and for ghcr.io (which then win over GITHUB_TOKEN).
	if err := os.WriteFile(filepath.Join(dockerCfg, "config.json"), []byte(`{"auths":{
		"docker.example":{"auth":"ZG9ja2VyLXVzZXI6ZG9ja2VyLXBhc3M="},
		"both.example":{"auth":"ZG9ja2VyLXVzZXI6ZG9ja2VyLXBhc3M="}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dockerCfg)
	env := map[string]string{"CFG_PASS": "cfg-pass"}
	regs := []config.Registry{
		{Host: "both.example", Username: "cfg-user", PasswordEnv: "CFG_PASS"},
		{Host: "unset.example", Username: "u", PasswordEnv: "MISSING"},
	}
	c, err := New(WithRegistries(regs, func(k string) string { return env[k] }), WithGitHubToken("octocat", "ghs_token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		repo string
		want authn.AuthConfig
	}{
		{"both.example/a", authn.AuthConfig{Username: "cfg-user", Password: "cfg-pass"}},
		{"docker.example/a", authn.AuthConfig{Username: "docker-user", Password: "docker-pass"}},
		{"ghcr.io/acme/cart", authn.AuthConfig{Username: "octocat", Password: "ghs_token"}},
		{"unset.example/a", authn.AuthConfig{}},
	} {
		repo, _ := name.NewRepository(tc.repo)
		a, err := c.keychain.Resolve(repo)
		if err != nil {
			t.Fatal(err)
		}
		got, err := authn.Authorization(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != tc.want.Username || got.Password != tc.want.Password {
			t.Errorf("%s: credentials %q/%q, want %q/%q", tc.repo, got.Username, got.Password, tc.want.Username, tc.want.Password)
		}
	}
}

func TestInsecureRegistriesUseHTTP(t *testing.T) {
	c, err := New(WithRegistries([]config.Registry{{Host: "registry.internal:5000", Insecure: true}}, func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"registry.internal:5000/a:1": "http", "registry.secure:5000/a:1": "https", "ghcr.io/a/b:1": "https",
	} {
		r, err := c.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Context().Scheme(); got != want {
			t.Errorf("%s: scheme %s, want %s", ref, got, want)
		}
		repo, err := c.ParseRepository(r.Context().String())
		if err != nil {
			t.Fatal(err)
		}
		if got := repo.Scheme(); got != want {
			t.Errorf("repository %s: scheme %s, want %s", repo, got, want)
		}
	}
}

// Config names Docker Hub as docker.io (or index.docker.io); go-containerregistry
// resolves every Docker Hub image to index.docker.io. Either spelling must
// authenticate short names, docker.io/ names and index.docker.io/ names alike.
func TestConfigRegistryHostIsNormalised(t *testing.T) {
	env := map[string]string{"HUB_PASS": "hub-pass"}
	for _, host := range []string{"docker.io", "index.docker.io"} {
		regs := []config.Registry{{Host: host, Username: "hub-user", PasswordEnv: "HUB_PASS"}}
		c, err := New(WithRegistries(regs, func(k string) string { return env[k] }), WithKeychain(authn.DefaultKeychain))
		if err != nil {
			t.Fatal(err)
		}
		for _, image := range []string{"nginx", "docker.io/library/nginx", "index.docker.io/acme/app"} {
			repo, _ := name.NewRepository(image)
			a, err := c.static.Resolve(repo)
			if err != nil {
				t.Fatal(err)
			}
			got, err := authn.Authorization(t.Context(), a)
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != "hub-user" {
				t.Errorf("registries[].host %q, image %s: user %q, want hub-user", host, image, got.Username)
			}
		}
	}
}
