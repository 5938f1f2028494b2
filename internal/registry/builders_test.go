package registry

import (
	"reflect"
	"testing"

	"github.com/deployment-automator/automator/internal/build"
	"github.com/deployment-automator/automator/internal/config"
)

func TestBuildRegistries(t *testing.T) {
	env := map[string]string{"REG_PASS": "s3cret", "HUB_PASS": "hub"}
	c, err := New(WithRegistries([]config.Registry{
		{Host: "127.0.0.1:5000", Insecure: true, Username: "ci", PasswordEnv: "REG_PASS"},
		{Host: "registry-1.docker.io", Username: "me", PasswordEnv: "HUB_PASS"},
		{Host: "mirror.local", Insecure: true},
		{Host: "empty.example", PasswordEnv: "UNSET"},
	}, func(k string) string { return env[k] }), WithGitHubToken("octocat", "ghs_token"))
	if err != nil {
		t.Fatal(err)
	}
	want := []build.Registry{
		{Host: "127.0.0.1:5000", Username: "ci", Password: "s3cret", Insecure: true},
		{Host: "docker.io", Username: "me", Password: "hub"},
		{Host: "ghcr.io", Username: "octocat", Password: "ghs_token"},
		{Host: "mirror.local", Insecure: true},
	}
	if got := c.BuildRegistries(); !reflect.DeepEqual(got, want) {
		t.Errorf("BuildRegistries =\n%+v\nwant\n%+v", got, want)
	}
}
