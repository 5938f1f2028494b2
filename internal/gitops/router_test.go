package gitops

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/internal/config"
)

// fakeClients hands out a client that is never used: NewRouter only builds.
type fakeClients struct{}

func (fakeClients) Client(context.Context, string, string) (*github.Client, error) {
	return github.NewClient(nil), nil
}

func TestNewRouter(t *testing.T) {
	gh := config.Environment{Name: "prod", Repo: "acme/manifests"}
	local := config.Environment{Name: "dev", Repo: "./manifests"}
	tests := []struct {
		name                string
		envs                []config.Environment
		dryRun              bool
		author              Author
		wantGitHub, wantGit bool
		wantAsked           int
		wantPusher          Pusher
		wantAuthor          Author
	}{
		{"git only: GitHub never asked", []config.Environment{local, local}, false, Author{}, false, true, 0, GitPusher{},
			Author{Name: "automator", Email: "automator@users.noreply.github.com"}},
		{"mixed: GitHub asked once", []config.Environment{gh, local, gh}, false, Author{Name: "Ann", Email: "ann@example.com"}, true, true, 1, GitPusher{},
			Author{Name: "Ann", Email: "ann@example.com"}},
		{"github only", []config.Environment{gh}, false, Author{}, true, false, 1, nil, Author{}},
		{"dry run pushes nothing", []config.Environment{local}, true, Author{}, false, true, 0, DryRunPusher{},
			Author{Name: "automator", Email: "automator@users.noreply.github.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := 0
			r, err := NewRouter(tt.envs, RouterConfig{Author: tt.author, DryRun: tt.dryRun, GitHub: func() (Clients, error) {
				asked++
				return fakeClients{}, nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if (r.GitHub != nil) != tt.wantGitHub || (r.Git != nil) != tt.wantGit || asked != tt.wantAsked {
				t.Fatalf("GitHub %v Git %v asked %d, want %v %v %d", r.GitHub != nil, r.Git != nil, asked, tt.wantGitHub, tt.wantGit, tt.wantAsked)
			}
			if !tt.wantGit {
				return
			}
			lw := r.Git.(*LocalWriter)
			if lw.pusher != tt.wantPusher || *lw.o.author != tt.wantAuthor {
				t.Errorf("local writer pusher %T author %+v, want %T %+v", lw.pusher, *lw.o.author, tt.wantPusher, tt.wantAuthor)
			}
		})
	}
}

func TestNewRouterErrors(t *testing.T) {
	gh := []config.Environment{{Name: "prod", Repo: "acme/manifests"}}
	boom := errors.New("no credentials")
	if _, err := NewRouter(gh, RouterConfig{GitHub: func() (Clients, error) { return nil, boom }}); !errors.Is(err, boom) {
		t.Errorf("NewRouter with failing GitHub clients = %v, want %v", err, boom)
	}
	if _, err := NewRouter(gh, RouterConfig{}); err == nil {
		t.Error("NewRouter with an owner/name repo and no GitHub clients succeeded")
	}
	if _, err := NewRouter(gh, RouterConfig{Options: []Option{WithAuthor("", "")}, GitHub: func() (Clients, error) { return fakeClients{}, nil }}); err == nil {
		t.Error("NewRouter with a bad shared option succeeded")
	}
}
