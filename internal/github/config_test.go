package github

import (
	"strings"
	"testing"

	jwt "github.com/golang-jwt/jwt/v4"

	"github.com/deployment-automator/automator/internal/config"
)

// The action's app-id and app-private-key inputs (AUTOMATOR_APP_ID and
// AUTOMATOR_APP_PRIVATE_KEY) override github.app and work without it; with
// neither, the token is used and UsesApp says so.
func TestConfigOptionsAppOverrides(t *testing.T) {
	_, keyPEM := newKey(t)
	_, otherPEM := newKey(t)
	tests := []struct {
		name    string
		cfg     config.GitHub
		env     map[string]string
		wantApp int64  // 0: token auth
		wantKey []byte // the key used, when an App
		wantErr string
	}{
		{name: "inputs without config", env: map[string]string{"AUTOMATOR_APP_ID": "42", "AUTOMATOR_APP_PRIVATE_KEY": string(keyPEM)},
			wantApp: 42, wantKey: keyPEM},
		{name: "inputs override the config", cfg: config.GitHub{App: &config.GitHubApp{ID: 7, PrivateKeyEnv: "CFG_KEY", InstallationID: 9}},
			env: map[string]string{"AUTOMATOR_APP_ID": "42", "AUTOMATOR_APP_PRIVATE_KEY": string(keyPEM), "CFG_KEY": string(otherPEM)}, wantApp: 42, wantKey: keyPEM},
		{name: "id input with the config's key", cfg: config.GitHub{App: &config.GitHubApp{ID: 7, PrivateKeyEnv: "CFG_KEY"}},
			env: map[string]string{"AUTOMATOR_APP_ID": "42", "CFG_KEY": string(otherPEM)}, wantApp: 42, wantKey: otherPEM},
		{name: "config only", cfg: config.GitHub{App: &config.GitHubApp{ID: 7, PrivateKeyEnv: "CFG_KEY"}},
			env: map[string]string{"CFG_KEY": string(otherPEM)}, wantApp: 7, wantKey: otherPEM},
		{name: "token", env: map[string]string{"GITHUB_TOKEN": "ghs_workflowtoken"}},
		{name: "empty inputs are unset", env: map[string]string{"AUTOMATOR_APP_ID": "", "GITHUB_TOKEN": "ghs_workflowtoken"}},
		{name: "id without a key", env: map[string]string{"AUTOMATOR_APP_ID": "42", "GITHUB_TOKEN": "t"}, wantErr: "app-private-key"},
		{name: "key without an id", env: map[string]string{"AUTOMATOR_APP_PRIVATE_KEY": string(keyPEM), "GITHUB_TOKEN": "t"}, wantErr: "app-id"},
		{name: "bad id", env: map[string]string{"AUTOMATOR_APP_ID": "forty-two", "AUTOMATOR_APP_PRIVATE_KEY": string(keyPEM)}, wantErr: "AUTOMATOR_APP_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			opts, err := ConfigOptions(tt.cfg, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var o options
			for _, opt := range opts {
				if err := opt(&o); err != nil {
					t.Fatal(err)
				}
			}
			if o.appID != tt.wantApp {
				t.Errorf("app id = %d, want %d", o.appID, tt.wantApp)
			}
			if got := UsesApp(tt.cfg, getenv); got != (tt.wantApp != 0) {
				t.Errorf("UsesApp = %v, want %v", got, tt.wantApp != 0)
			}
			if tt.wantApp == 0 {
				if o.token == "" {
					t.Error("no token")
				}
				return
			}
			want, _ := jwt.ParseRSAPrivateKeyFromPEM(tt.wantKey)
			if o.key == nil || !o.key.Equal(want) {
				t.Error("the App key is not the one expected")
			}
			if tt.cfg.App != nil && tt.cfg.App.ID == tt.wantApp && o.installationID != tt.cfg.App.InstallationID {
				t.Errorf("installation id = %d", o.installationID)
			}
		})
	}
}

func TestTokenFallback(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		cfg  config.GitHub
		want bool
	}{
		{"workflow token", map[string]string{"GITHUB_ACTIONS": "true"}, config.GitHub{}, true},
		{"app input", map[string]string{"GITHUB_ACTIONS": "true", EnvAppID: "42"}, config.GitHub{}, false},
		{"app in config", map[string]string{"GITHUB_ACTIONS": "true"}, config.GitHub{App: &config.GitHubApp{ID: 7}}, false},
		{"outside Actions", nil, config.GitHub{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TokenFallback(tt.cfg, func(k string) string { return tt.env[k] })
			if (got != "") != tt.want || (tt.want && !strings.Contains(got, "app-id")) {
				t.Errorf("TokenFallback = %q, want a warning: %v", got, tt.want)
			}
		})
	}
}
