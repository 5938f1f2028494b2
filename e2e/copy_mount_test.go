package e2e_test

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/registry"
)

// TestCopyMountsFromRepositoriesKnownToHoldTheBlobs copies across registries into a token-auth
// registry that already holds the blobs in another repository: told so (a hint, as promote passes the
// same service's other environments) or remembering its own earlier copy, automator mounts every blob
// (the token is widened to pull from that repository) and moves no blob data, with one ping at most
// and one manifest check.
func TestCopyMountsFromRepositoriesKnownToHoldTheBlobs(t *testing.T) {
	ctx := context.Background()
	src := harness.StartRegistry(t)
	dst := harness.StartRegistry(t, harness.WithTokenAuth("dst-user", "dst-pass"))
	img, err := random.Image(256<<10, 3)
	if err != nil {
		t.Fatal(err)
	}
	const blobs = 4 // 3 layers and the config
	ref, _ := name.ParseReference(src.Ref("acme/app:1.0.0"))
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"U": dst.Username, "P": dst.Password}
	newClient := func() *registry.Client {
		c, err := registry.New(registry.WithRegistries([]config.Registry{{Host: dst.Host, UsernameEnv: "U", PasswordEnv: "P", Insecure: true}},
			func(k string) string { return env[k] }))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := newClient()
	if _, err := first.Copy(ctx, src.Ref("acme/app:1.0.0"), dst.Ref("staging/app:1.0.0"), false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		client    *registry.Client
		dst       string
		opts      []registry.CopyOption
		wantPings int
	}{
		{"another process told the repository", newClient(), "prod/app", []registry.CopyOption{registry.MountFrom(dst.Ref("staging/app"))}, 1},
		{"the process that copied there before", first, "qa/app", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst.ResetRequests()
			if _, err := tc.client.Copy(ctx, src.Ref("acme/app:1.0.0"), dst.Ref(tc.dst+":1.0.0"), false, tc.opts...); err != nil {
				t.Fatal(err)
			}
			if n := blobTransfers(dst); n != 0 {
				t.Errorf("copy moved blob data %d times, want mounts only: %+v", n, dst.Requests())
			}
			mounts := 0
			for _, r := range dst.Requests() {
				if r.Kind == harness.KindBlobUpload && r.Method == "POST" && r.Status == 201 {
					mounts++
				}
			}
			if mounts != blobs {
				t.Errorf("%d blobs mounted, want %d: %+v", mounts, blobs, dst.Requests())
			}
			if n := dst.Count("GET", harness.KindPing); n != tc.wantPings {
				t.Errorf("%d pings, want %d", n, tc.wantPings)
			}
			// The new tag, then the digest (a repository holding the manifest would need no blobs).
			if n := dst.Count("HEAD", harness.KindManifest); n != 2 {
				t.Errorf("%d manifest checks, want 2", n)
			}
		})
	}
}
