package watch

import (
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

func TestFlagsCheck(t *testing.T) {
	rules := []config.WatchRule{{}}
	env := map[string]string{"SECRET": "s3cret"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name       string
		cfg        *config.Watch
		flags      Flags
		wantErr    string
		wantShard  string
		wantSecret string
	}{
		{name: "no watch section", cfg: nil, wantErr: "a.yaml: watch.rules is empty"},
		{name: "no rules", cfg: &config.Watch{}, wantErr: "watch.rules is empty"},
		{name: "plain", cfg: &config.Watch{Rules: rules}, wantShard: Shard{}.String()},
		{name: "shard", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "1/3"}, wantShard: "1/3"},
		{name: "bad shard", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "3/3"}, wantErr: "3/3"},
		{name: "statefulset pod name", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "automator-2/3"}, wantShard: "2/3"},
		{name: "pod name with dashes", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "my-automator-watch-0/2"}, wantShard: "0/2"},
		{name: "pod ordinal beyond count", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "automator-3/3"}, wantErr: "automator-3/3"},
		{name: "pod name without ordinal", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "automator-x/3"}, wantErr: "NAME-I"},
		{name: "unexpanded variables", cfg: &config.Watch{Rules: rules}, flags: Flags{Shard: "$(POD_NAME)/$(SHARD_COUNT)"}, wantErr: "want I/N"},
		{name: "listen without secret env", cfg: &config.Watch{Rules: rules}, flags: Flags{Listen: ":8080"}, wantErr: "shared secret"},
		{name: "listen with unset variable", cfg: &config.Watch{Rules: rules, WebhookSecretEnv: "UNSET"}, flags: Flags{Listen: ":8080"}, wantErr: "shared secret"},
		{name: "listen", cfg: &config.Watch{Rules: rules, WebhookSecretEnv: "SECRET"}, flags: Flags{Listen: ":8080"}, wantShard: Shard{}.String(), wantSecret: "s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.flags.Check(tt.cfg, "a.yaml", getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Check() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check() error = %v", err)
			}
			if got := c.Shard.String(); got != tt.wantShard {
				t.Errorf("shard = %q, want %q", got, tt.wantShard)
			}
			if string(c.Secret) != tt.wantSecret {
				t.Errorf("secret = %q, want %q", c.Secret, tt.wantSecret)
			}
		})
	}
}
