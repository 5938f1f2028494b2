package promote

import (
	"slices"
	"testing"
)

func TestMountHints(t *testing.T) {
	dev := &Target{}
	staging := &Target{Registry: "reg.example/staging", From: dev}
	prod := &Target{Registry: "reg.example/prod/", From: staging}
	eu := &Target{Registry: "eu.example/prod", From: prod}
	all := []string{"eu.example/prod", "reg.example/staging", "reg.example/prod/", "reg.example/qa"}
	for _, tc := range []struct {
		name       string
		t          *Target
		registries []string
		repo       string
		want       []string
	}{
		{"upstream chain first, then the others, never the destination or the source", eu, all, "reg.example/prod/app",
			[]string{"reg.example/staging/app", "reg.example/qa/app"}},
		{"from the build registry", staging, all, "ghcr.io/acme/app",
			[]string{"eu.example/prod/app", "reg.example/prod/app", "reg.example/qa/app"}},
		{"no registries configured: the upstream chain only", prod, nil, "reg.example/staging/app", nil},
		{"no upstream", &Target{Registry: "reg.example/qa"}, all, "ghcr.io/acme/app",
			[]string{"eu.example/prod/app", "reg.example/staging/app", "reg.example/prod/app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Promoter{Registries: tc.registries}
			if got := p.mountHints(tc.t, tc.repo); !slices.Equal(got, tc.want) {
				t.Errorf("mountHints = %q, want %q", got, tc.want)
			}
		})
	}
}
