package harness_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/deployment-automator/automator/e2e/harness"
)

func pushAndPull(t *testing.T, reg *harness.Registry, repo string) v1.Hash {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg.Ref(repo)+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := remote.Write(ref, img, remote.WithAuth(reg.Authenticator()), remote.WithContext(ctx)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	desc, err := remote.Get(ref, remote.WithAuth(reg.Authenticator()), remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("reading back %s: %v", ref, err)
	}
	if desc.Digest != want {
		t.Fatalf("digest read back = %s, pushed %s", desc.Digest, want)
	}
	got, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers read back = %d, %v; want 2", len(layers), err)
	}
	return want
}

func TestRegistryPushPullDigest(t *testing.T) {
	tests := []struct {
		name string
		opts []harness.RegistryOption
	}{
		{"anonymous", nil},
		{"basic", []harness.RegistryOption{harness.WithBasicAuth("ci-user", "s3cret-basic")}},
		{"token", []harness.RegistryOption{harness.WithTokenAuth("ci-user", "s3cret-token")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := harness.StartRegistry(t, tc.opts...)
			pushAndPull(t, reg, "team/app")
			if n := reg.Count(http.MethodPut, harness.KindManifest); n != 1 {
				t.Errorf("manifest PUTs = %d, want 1", n)
			}
			if n := reg.Count(http.MethodPost, harness.KindBlobUpload); n != 3 {
				t.Errorf("blob upload starts = %d, want 3 (2 layers + config)", n)
			}
			if reg.Token != nil && reg.Token.Issued() == 0 {
				t.Errorf("token server issued no token")
			}
		})
	}
}

func TestRegistryRejectsBadCredentials(t *testing.T) {
	tests := []struct {
		name string
		opt  harness.RegistryOption
	}{
		{"basic", harness.WithBasicAuth("ci-user", "right")},
		{"token", harness.WithTokenAuth("ci-user", "right")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := harness.StartRegistry(t, tc.opt)
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := name.ParseReference(reg.Ref("team/app")+":v1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			bad := remote.WithAuthFromKeychain(staticKeychain{"ci-user", "wrong"})
			err = remote.Write(ref, img, bad)
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
				t.Fatalf("push with wrong password: err = %v, want 401 transport error", err)
			}
		})
	}
}

func TestRegistryFaultInjection(t *testing.T) {
	reg := harness.StartRegistry(t)
	f := harness.TooManyRequests(2 * time.Second)
	f.Method, f.Path = http.MethodGet, harness.RegistryManifestPath
	reg.InjectFault(t, f)
	pushAndPull(t, reg, "team/retry")
	var faulted []harness.RegistryRequest
	for _, r := range reg.Requests() {
		if r.Faulted {
			faulted = append(faulted, r)
		}
	}
	if len(faulted) != 1 || faulted[0].Status != http.StatusTooManyRequests || faulted[0].Kind != harness.KindManifest {
		t.Fatalf("faulted requests = %+v, want one 429 manifest GET", faulted)
	}
	if reg.PendingFaults() != 0 {
		t.Fatalf("fault not consumed")
	}
}
