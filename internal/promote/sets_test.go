package promote

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/gitops"
)

func TestParseSets(t *testing.T) {
	images := map[string]string{"cart": "ghcr.io/acme/cart"}
	for _, tc := range []struct {
		set     string
		want    gitops.Update
		wantErr string
	}{
		{"cart=ghcr.io/o/cart:2.1.1", gitops.Update{Service: "cart", Repository: "ghcr.io/o/cart", Tag: "2.1.1"}, ""},
		{"cart=ghcr.io/o/cart:2.1.1@" + digest("a"), gitops.Update{Service: "cart", Repository: "ghcr.io/o/cart", Tag: "2.1.1", Digest: digest("a")}, ""},
		{"cart=ghcr.io/o/cart@" + digest("a"), gitops.Update{Service: "cart", Repository: "ghcr.io/o/cart", Digest: digest("a")}, ""},
		{"cart=localhost:5000/o/cart:1", gitops.Update{Service: "cart", Repository: "localhost:5000/o/cart", Tag: "1"}, ""},
		{"cart=2.1.1", gitops.Update{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "2.1.1"}, ""},
		{"cart=@" + digest("b"), gitops.Update{Service: "cart", Repository: "ghcr.io/acme/cart", Digest: digest("b")}, ""},
		{"cart=localhost:5000/o/cart", gitops.Update{}, "name a tag or a digest"},
		{"web=2.1.1", gitops.Update{}, `unknown service "web"`},
		{"cart=ghcr.io/o/cart:2.1.1@sha256:12", gitops.Update{}, "invalid digest"},
		{"cart", gitops.Update{}, "want SERVICE="},
	} {
		t.Run(tc.set, func(t *testing.T) {
			got, err := ParseSets(images, []string{tc.set})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] != tc.want {
				t.Errorf("ParseSets = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// registryTags answers Digest from a tag map; a missing tag is a 404, and
// the host down cannot be asked.
type registryTags map[string]string

func (r registryTags) Digest(_ context.Context, ref string) (v1.Hash, error) {
	if strings.HasPrefix(ref, "down/") {
		return v1.Hash{}, errors.New("dial tcp: lookup down: no such host")
	}
	d, ok := r[ref]
	if !ok {
		return v1.Hash{}, &transport.Error{StatusCode: http.StatusNotFound}
	}
	return v1.NewHash(d)
}

func TestResolveSets(t *testing.T) {
	reg := registryTags{"r/cart:2.1.1": digest("a")}
	for _, tc := range []struct {
		name    string
		in      gitops.Update
		want    string
		setErr  bool
		wantErr string
	}{
		{"a tag gets the registry's digest", gitops.Update{Service: "cart", Repository: "r/cart", Tag: "2.1.1"}, digest("a"), false, ""},
		{"a matching pair is kept", gitops.Update{Service: "cart", Repository: "r/cart", Tag: "2.1.1", Digest: digest("a")}, digest("a"), false, ""},
		{"a digest alone is not looked up", gitops.Update{Service: "cart", Repository: "r/other", Digest: digest("c")}, digest("c"), false, ""},
		{"a pair the registry contradicts", gitops.Update{Service: "cart", Repository: "r/cart", Tag: "2.1.1", Digest: digest("b")}, "", true, "the registry says r/cart:2.1.1 is " + digest("a") + ", not " + digest("b")},
		{"an unknown tag", gitops.Update{Service: "cart", Repository: "r/cart", Tag: "9.9.9"}, "", true, "the registry has no tag r/cart:9.9.9"},
		{"an unknown tag with a digest", gitops.Update{Service: "cart", Repository: "r/cart", Tag: "9.9.9", Digest: digest("a")}, "", true, "the registry has no tag r/cart:9.9.9"},
		{"an unreachable registry keeps a given digest", gitops.Update{Service: "cart", Repository: "down/cart", Tag: "1", Digest: digest("e")}, digest("e"), false, ""},
		{"an unreachable registry fails a bare tag", gitops.Update{Service: "cart", Repository: "down/cart", Tag: "1"}, "", false, "no such host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveSets(context.Background(), reg, []gitops.Update{tc.in}, zap.NewNop())
			var se *SetError
			if tc.wantErr != "" && !tc.setErr {
				if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a plain error containing %q", err, tc.wantErr)
				}
				return
			}
			if tc.setErr {
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a *SetError containing %q", err, tc.wantErr)
				}
				return
			}
			want := tc.in
			want.Digest = tc.want
			if err != nil || !reflect.DeepEqual(got, []gitops.Update{want}) {
				t.Errorf("ResolveSets = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}
