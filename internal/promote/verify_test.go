package promote

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

type digests map[string]string

func (d digests) Digest(_ context.Context, ref string) (v1.Hash, error) {
	s, ok := d[ref]
	if !ok {
		return v1.Hash{}, errors.New("MANIFEST_UNKNOWN")
	}
	return v1.NewHash(s)
}

type allowOnly map[string]bool

func (a allowOnly) Check(_ context.Context, _ *Target, image string) (gitops.ScanSummary, bool, error) {
	return gitops.ScanSummary{}, a[image], nil
}

// A carried update is written again only when its digest still exists and
// the environment's gate passes it now; anything else is refused.
func TestReverify(t *testing.T) {
	cfg, err := config.Parse("automator.yaml", []byte("version: 1\nenvironments:\n  - name: staging\n    repo: acme/manifests\n    files: [s.yaml]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	good := "sha256:" + strings.Repeat("a", 64)
	bad := "sha256:" + strings.Repeat("b", 64)
	gone := "sha256:" + strings.Repeat("c", 64)
	v := Reverify{Targets: ts,
		Registry: digests{"r/cart@" + good: good, "r/cart@" + bad: bad},
		Gate:     allowOnly{"r/cart@" + good: true}}
	env := cfg.Environments[0]
	for _, tc := range []struct {
		name, digest, want string
	}{
		{"exists and passes", good, ""},
		{"blocked now", bad, "gate blocks"},
		{"gone from the registry", gone, "MANIFEST_UNKNOWN"},
		{"no digest", "", "no digest"},
	} {
		err := v.Verify(t.Context(), env, gitops.Update{Service: "cart", Repository: "r/cart", Digest: tc.digest})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := v.Verify(t.Context(), config.Environment{Name: "qa"}, gitops.Update{Service: "cart", Repository: "r/cart", Digest: good}); err == nil {
		t.Error("an unknown environment was verified")
	}
}
