package rewrite

import (
	"strings"
	"testing"
)

func TestFlagsParse(t *testing.T) {
	tests := []struct {
		name     string
		f        Flags
		wantUps  int
		wantOpts int
		wantErr  string
	}{
		{"one set, defaults", Flags{Sets: []string{"ghcr.io/acme/api=v1"}, KustomizeDigest: "separate"}, 1, 0, ""},
		{"every option", Flags{Sets: []string{"ghcr.io/acme/api=v1", "ghcr.io/acme/web=@sha256:" + strings.Repeat("a", 64)},
			SharedTags: []string{"a.tag", "b.tag"}, KustomizeDigest: "combined", MarkersOnly: true}, 2, 4, ""},
		{"bad set", Flags{Sets: []string{"no-equals"}, KustomizeDigest: "separate"}, 0, 0, "--set: "},
		{"bad kustomize mode", Flags{KustomizeDigest: "both"}, 0, 0, `--kustomize-digest: want separate or combined, got "both"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ups, opts, err := tt.f.Parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ups) != tt.wantUps || len(opts) != tt.wantOpts {
				t.Errorf("Parse = %d updates, %d options; want %d, %d", len(ups), len(opts), tt.wantUps, tt.wantOpts)
			}
			var o options
			for _, opt := range opts {
				if err := opt(&o); err != nil {
					t.Fatalf("option: %v", err)
				}
			}
			if o.markersOnly != tt.f.MarkersOnly || (o.kustomize == KustomizeCombined) != (tt.f.KustomizeDigest == "combined") {
				t.Errorf("options give markersOnly %v kustomize %v", o.markersOnly, o.kustomize)
			}
		})
	}
}
