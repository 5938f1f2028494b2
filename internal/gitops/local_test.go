package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

func TestRepoKinds(t *testing.T) {
	tests := []struct {
		repo   string
		github bool
		url    string // remoteURL; "" = same as repo
	}{
		{"acme/manifests", true, ""},
		{"acme/manifests.git", true, ""},
		{"./acme/manifests", false, "file://"},
		{"../manifests", false, "file://"},
		{"/srv/git/manifests.git", false, "file:///srv/git/manifests.git"},
		{"file:///srv/git/manifests.git", false, ""},
		{"https://git.example.com/acme/manifests.git", false, ""},
		{"git@git.example.com:acme/manifests.git", false, ""},
		{"ssh://git@git.example.com/acme/manifests.git", false, ""},
	}
	for _, tt := range tests {
		if got := IsGitHubRepo(tt.repo); got != tt.github {
			t.Errorf("IsGitHubRepo(%q) = %v, want %v", tt.repo, got, tt.github)
		}
		if tt.github {
			continue
		}
		got, err := remoteURL(tt.repo)
		want := tt.url
		if want == "" {
			want = tt.repo
		}
		if err != nil || !strings.HasPrefix(got, want) {
			t.Errorf("remoteURL(%q) = %q, %v; want prefix %q", tt.repo, got, err, want)
		}
	}
}

func TestRedaction(t *testing.T) {
	const secret = "ghs_s3cr3tT0ken"
	u := "https://x-access-token:" + secret + "@git.example.com/acme/manifests.git"
	for _, s := range []string{
		redactURL(u),
		redactText("fatal: unable to access '"+u+"/': 403", u),
		redactText("fatal: could not read from https://"+secret+"@git.example.com/x", ""),
	} {
		if strings.Contains(s, secret) || !strings.Contains(s, "xxxxx") {
			t.Errorf("not redacted: %q", s)
		}
	}
	if got := redactURL("file:///srv/git/m.git"); got != "file:///srv/git/m.git" {
		t.Errorf("redactURL changed a URL without credentials: %q", got)
	}
}

func TestRouterNamesMissingWriter(t *testing.T) {
	_, err := Router{}.Apply(context.Background(), Request{Env: config.Environment{Name: "dev", Repo: "https://u:tok@git.example.com/m.git"}})
	if err == nil || !strings.Contains(err.Error(), `environment "dev"`) || !strings.Contains(err.Error(), "local git writer") || strings.Contains(err.Error(), "tok@") {
		t.Errorf("err = %v", err)
	}
	_, err = Router{}.Previous(context.Background(), config.Environment{Name: "prod", Repo: "acme/manifests"})
	if err == nil || !strings.Contains(err.Error(), "GitHub writer") {
		t.Errorf("err = %v", err)
	}
}

// A cancelled or timed-out git command's error carries its arguments, the
// remote URL with credentials among them: gitErr must not pass it on.
func TestGitErrOnCancelHidesTheURL(t *testing.T) {
	const secret = "ghs_s3cr3tT0ken"
	u := "https://x-access-token:" + secret + "@git.example.com/acme/manifests.git"
	c := &clone{env: config.Environment{Name: "dev"}, url: u, shown: redactURL(u)}
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		err := c.gitErr("cloning", fmt.Errorf("git clone --quiet %s repo: %w", u, cause))
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the token: %v", err)
		}
		if !errors.Is(err, cause) {
			t.Errorf("error %v does not wrap %v", err, cause)
		}
	}
}
