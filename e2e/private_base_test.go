package e2e_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestBuildPrivateBase builds a service whose base image lives in the
// shop's registry, which wants basic auth and speaks plain HTTP: the
// registries[] entry's credentials (from REG_USER/REG_PASS) and insecure
// setting reach buildah, the image builds on that base, and no credential
// is printed (exec checks every output). Without the password the pull of
// the base is refused, so the credentials were what made it work.
func TestBuildPrivateBase(t *testing.T) {
	s := newShop(t)
	layer, err := crane.Layer(map[string][]byte{"etc/base-release": []byte("private base 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	base, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if base, err = mutate.ConfigFile(base, cf); err != nil {
		t.Fatal(err)
	}
	baseRef, err := name.ParseReference(s.reg.Ref("acme/base")+":1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(baseRef, base, remote.WithAuth(s.reg.Authenticator())); err != nil {
		t.Fatalf("pushing the base image: %v", err)
	}

	s.app.WriteFile("src/private/Dockerfile", "FROM "+s.reg.Ref("acme/base")+":1\nCOPY hello.txt /hello.txt\n")
	s.app.WriteFile("src/private/hello.txt", "hello from a private base\n")
	cfg := s.app.ReadFile(".github/automator.yaml")
	cfg = strings.Replace(cfg, "services:\n", "services:\n  - name: private\n    context: src/private\n    image: "+s.reg.Ref("acme/private")+"\n", 1)
	s.app.WriteFile(".github/automator.yaml", cfg)
	s.app.Commit("private: a service on a private base image")

	env := map[string]string{"REG_USER": regUser, "REG_PASS": regPassword, "DOCKER_CONFIG": t.TempDir()}
	withoutPassword := map[string]string{"REG_USER": regUser, "DOCKER_CONFIG": t.TempDir()}
	if r := s.exec(withoutPassword, "build", "--service", "private"); r.code == 0 {
		t.Fatalf("the private base was pulled without credentials:\n%s", r.stderr)
	}
	r := s.exec(env, "build", "--service", "private", "--push")
	if r.code != 0 {
		t.Fatalf("build exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	built, err := name.ParseReference(s.reg.Ref("acme/private")+":sha-"+s.app.Head()[:12], name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(built, remote.WithAuth(s.reg.Authenticator()))
	if err != nil {
		t.Fatalf("the built image was not pushed: %v", err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	baseDiffID, _ := layer.DiffID() // the uncompressed digest survives recompression
	if len(layers) != 2 {
		t.Fatalf("built image has %d layers, want the base's and the COPY's", len(layers))
	}
	if d, _ := layers[0].DiffID(); d != baseDiffID {
		t.Errorf("first layer %s, want the private base's %s", d, baseDiffID)
	}
}
