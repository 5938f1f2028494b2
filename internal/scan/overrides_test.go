package scan

import (
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

func TestOverridesApply(t *testing.T) {
	base := config.Scan{CacheDir: "/cfg/cache", MaxDBAge: "72h"}
	tests := []struct {
		name string
		cfg  config.Scan
		o    Overrides
		want config.Scan
	}{
		{"no flags keep the config", base, Overrides{}, base},
		{"cache dir replaced", base, Overrides{CacheDir: "/flag/cache"}, config.Scan{CacheDir: "/flag/cache", MaxDBAge: "72h"}},
		{"flags turn on", base, Overrides{Offline: true, SkipDBUpdate: true}, config.Scan{CacheDir: "/cfg/cache", MaxDBAge: "72h", Offline: true, SkipDBUpdate: true}},
		{"flags never turn off", config.Scan{Offline: true, SkipDBUpdate: true}, Overrides{}, config.Scan{Offline: true, SkipDBUpdate: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.o.Apply(tt.cfg)
			if got.CacheDir != tt.want.CacheDir || got.MaxDBAge != tt.want.MaxDBAge || got.Offline != tt.want.Offline || got.SkipDBUpdate != tt.want.SkipDBUpdate {
				t.Errorf("Apply = %+v, want %+v", got, tt.want)
			}
		})
	}
}
