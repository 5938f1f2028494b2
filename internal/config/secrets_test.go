package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
)

// Every key that names a secret yields its value, so that the redactor
// knows it before a builder, an error or a log line can print it.
func TestSecretValuesCoversEverySecretKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, []byte("app-key-from-a-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := fstest.MapFS{
		"src/a/Dockerfile": {Data: []byte("FROM scratch\n")},
		"ci/netrc":         {Data: []byte("machine x password netrc-secret-value")},
	}
	in := `version: 1
services:
  - name: a
    context: src/a
    image: r.example/a
    secrets:
      - {id: npm, env: NPM_TOKEN}
      - {id: netrc, file: ci/netrc}
      - {id: unset, env: NOT_SET}
registries:
  - host: r.example
    usernameEnv: REG_USER
    passwordEnv: REG_PASS
github:
  tokenEnv: MY_TOKEN
  app:
    id: 1
    privateKeyFile: ` + keyFile + `
watch:
  webhookSecretEnv: HOOK_SECRET
`
	cfg, err := Parse("automator.yaml", []byte(in), repo)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"NPM_TOKEN": "npm-secret-value", "REG_PASS": "registry-password",
		"MY_TOKEN": "ghp_token_value", "HOOK_SECRET": "webhook-secret-value",
		"REG_USER": "not-a-secret-user",
	}
	got := cfg.SecretValues(func(k string) string { return env[k] })
	want := []string{"npm-secret-value", "machine x password netrc-secret-value", "registry-password", "ghp_token_value", "webhook-secret-value", "app-key-from-a-file"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("SecretValues lacks %q; got %q", w, got)
		}
	}
	if slices.Contains(got, "not-a-secret-user") || slices.Contains(got, "") {
		t.Errorf("SecretValues holds a non-secret or empty value: %q", got)
	}
}
