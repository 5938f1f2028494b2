package detect

import (
	"slices"
	"testing"
)

func TestWithSelection(t *testing.T) {
	tests := []struct {
		name string
		sel  Selection
		want options
	}{
		{"empty leaves the event to decide", Selection{Remote: "origin"}, options{remote: "origin"}},
		{"range", Selection{Base: "v1", Head: "v2", Remote: "up"}, options{base: "v1", head: "v2", remote: "up"}},
		{"range wins over all", Selection{Base: "v1", All: true}, options{base: "v1"}},
		{"all", Selection{All: true, Remote: "origin"}, options{all: true, remote: "origin"}},
		{"services", Selection{Services: []string{"api", "web"}}, options{services: []string{"api", "web"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got options
			if err := WithSelection(tt.sel)(&got); err != nil {
				t.Fatal(err)
			}
			if got.base != tt.want.base || got.head != tt.want.head || got.all != tt.want.all || got.remote != tt.want.remote ||
				!slices.Equal(got.services, tt.want.services) {
				t.Errorf("WithSelection(%+v) set %+v, want %+v", tt.sel, got, tt.want)
			}
		})
	}
}
