package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRewriteUnknownImage (issue 13): a --set whose image no given file
// references exits 2 naming the image and the files searched, and writes
// nothing, not even the files another --set would change; a stale digest is
// dropped; --insert adds a kustomize entry only for an image no file pins.
func TestRewriteUnknownImage(t *testing.T) {
	const values = "image:\n  repository: ghcr.io/acme/foo\n  tag: 1.0.0\n  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
	const kust = "resources:\n- ../base\n"
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		values string // want values.yaml after the run
		kust   string
		output []string
	}{
		{"unknown image", []string{"--set", "ghcr.io/acme/foo=2.1.0", "--set", "ghcr.io/acme/ghost=1.0.0"}, 2, values, kust,
			[]string{"ghcr.io/acme/ghost", "values.yaml", "kustomization.yaml", "nothing written"}},
		{"misspelt image names the near miss", []string{"--set", "docker.io/acme/foo=2.1.0"}, 2, values, kust,
			[]string{"docker.io/acme/foo", "values.yaml:2 image"}},
		{"stale digest dropped", []string{"--set", "ghcr.io/acme/foo=2.1.0"}, 0,
			strings.Replace(strings.Replace(values, "1.0.0", "2.1.0", 1), "sha256:1111111111111111111111111111111111111111111111111111111111111111", `""`, 1), kust,
			[]string{"digest: sha256:1111111111111111111111111111111111111111111111111111111111111111 → \"\""}},
		{"insert only where no file pins", []string{"--insert", "--set", "ghcr.io/acme/foo=1.0.0", "--set", "ghcr.io/acme/bar=3.0.0"}, 0, values,
			kust + "images:\n- name: ghcr.io/acme/bar\n  newTag: 3.0.0\n", []string{"already at the requested value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			vf, kf := filepath.Join(dir, "values.yaml"), filepath.Join(dir, "kustomization.yaml")
			if err := os.WriteFile(vf, []byte(values), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(kf, []byte(kust), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runCLI(t, nil, append([]string{"rewrite", vf, kf}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.output {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q:\n%s%s", w, stdout, stderr)
				}
			}
			if b, _ := os.ReadFile(vf); string(b) != tc.values {
				t.Errorf("values.yaml:\n%s\nwant\n%s", b, tc.values)
			}
			if b, _ := os.ReadFile(kf); string(b) != tc.kust {
				t.Errorf("kustomization.yaml:\n%s\nwant\n%s", b, tc.kust)
			}
		})
	}
}
