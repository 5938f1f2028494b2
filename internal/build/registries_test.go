package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteRegistryFiles(t *testing.T) {
	system := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(system, []byte("unqualified-search-registries = [\"docker.io\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	regs := []Registry{
		{Host: "private.example", Username: "ci", Password: "s3cret"},
		{Host: "127.0.0.1:5000", Username: "u", Password: "p", Insecure: true},
		{Host: "mirror.local", Insecure: true},
	}
	f, err := writeRegistryFiles(regs, system)
	if err != nil {
		t.Fatal(err)
	}
	defer f.remove()
	if info, err := os.Stat(f.dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("settings directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
	raw, err := os.ReadFile(f.authFile)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(f.authFile); info.Mode().Perm() != 0o600 {
		t.Errorf("auth file mode %v, want 0600", info.Mode().Perm())
	}
	var auth struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	if err := json.Unmarshal(raw, &auth); err != nil {
		t.Fatal(err)
	}
	if got := auth.Auths["private.example"].Auth; got != base64.StdEncoding.EncodeToString([]byte("ci:s3cret")) {
		t.Errorf("private.example auth = %q", got)
	}
	if _, ok := auth.Auths["mirror.local"]; ok || len(auth.Auths) != 2 {
		t.Errorf("auths = %v, want the two registries with credentials", auth.Auths)
	}
	conf, err := os.ReadFile(f.conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`unqualified-search-registries = ["docker.io"]`, "location = \"127.0.0.1:5000\"\ninsecure = true", "location = \"mirror.local\"\ninsecure = true"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("registries.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(string(conf), "private.example") {
		t.Errorf("a TLS registry was listed as insecure:\n%s", conf)
	}

	if f, err := writeRegistryFiles([]Registry{{Host: "public.example"}}, system); err != nil || f != nil {
		t.Errorf("nothing to write: %+v, %v", f, err)
	}
}

// Buildah gets the credentials through an auth file and the insecure hosts
// through CONTAINERS_REGISTRIES_CONF: no secret is on a command line, and
// Close removes both.
func TestBuildahRegistries(t *testing.T) {
	f := &fakeRunner{}
	b, err := New(context.Background(), BackendBuildah, WithRunner(f), WithBinary("/usr/bin/buildah"), WithStorageDir(t.TempDir()),
		WithRegistries(Registry{Host: "127.0.0.1:5000", Username: "ci", Password: "s3cret", Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	req := fullRequest(t)
	req.Platforms = nil
	if _, err := b.Build(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	bud := f.cmds[0]
	i := slices.Index(bud, "--authfile")
	if i < 0 || !strings.HasPrefix(bud[i+1], os.TempDir()) {
		t.Fatalf("bud = %q, want --authfile", bud)
	}
	dir := filepath.Dir(bud[i+1])
	for n, cmd := range f.cmds {
		if strings.Contains(strings.Join(cmd, " "), "s3cret") {
			t.Errorf("command %d carries the password: %q", n, cmd)
		}
	}
	if !slices.Contains(f.envs[0], "CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf")) {
		t.Errorf("bud environment lacks CONTAINERS_REGISTRIES_CONF")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left the registry settings in %s (%v)", dir, err)
	}
	if _, err := New(context.Background(), BackendBuildah, WithRunner(f), WithRegistries(Registry{Host: "a/b"})); err == nil {
		t.Error("a host with a path was accepted")
	}
}
