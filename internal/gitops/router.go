package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/internal/config"
)

// Router is a Writer that sends each environment to the writer its repo
// calls for: GitHub for owner/name, Git for a git URL or path. Environments
// of one configuration may mix both.
type Router struct {
	// GitHub receives environments whose repo is owner/name; nil when no
	// environment needs it (then such an environment is an error).
	GitHub Writer
	// Git receives environments whose repo is a git URL or path.
	Git Writer
}

var _ Writer = Router{}

func (r Router) pick(env config.Environment) (Writer, error) {
	w, kind := r.Git, "the local git writer"
	if IsGitHubRepo(env.Repo) {
		w, kind = r.GitHub, "the GitHub writer"
	}
	if w == nil {
		return nil, fmt.Errorf("environment %q: repo %q needs %s, which is not configured", env.Name, redactURL(env.Repo), kind)
	}
	return w, nil
}

// Apply implements Writer.
func (r Router) Apply(ctx context.Context, req Request) (*Result, error) {
	w, err := r.pick(req.Env)
	if err != nil {
		return nil, err
	}
	return w.Apply(ctx, req)
}

// Current implements Writer.
func (r Router) Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]Image, error) {
	w, err := r.pick(env)
	if err != nil {
		return nil, err
	}
	return w.Current(ctx, env, at, images)
}

// Previous implements Writer.
func (r Router) Previous(ctx context.Context, env config.Environment) (string, error) {
	w, err := r.pick(env)
	if err != nil {
		return "", err
	}
	return w.Previous(ctx, env)
}

// Clients hands out a go-github client per repository; internal/github's
// Factory is one (retries, rate limits, one App installation per owner).
type Clients interface {
	Client(ctx context.Context, owner, repo string) (*github.Client, error)
}

// RouterConfig says how NewRouter builds the writers environments call for.
type RouterConfig struct {
	// Options are shared by both writers (server URL, logger, verifier, …).
	Options []Option
	// GitHub returns the clients for owner/name repos. It is called at most
	// once, and only when an environment needs GitHub, so a git-only
	// configuration needs no GitHub credentials.
	GitHub func() (Clients, error)
	// Author is the local git writer's commit author; the zero value keeps
	// the writer's default.
	Author Author
	// DryRun makes both writers write nothing: GitHub writes answer with
	// synthetic objects (DryRun) and the local writer pushes nothing
	// (DryRunPusher).
	DryRun bool
}

// NewRouter builds the write-back for envs: a Router holding the GitHub
// writer when an environment's repo is owner/name and the local git writer
// when one is a git URL or path, each built only when needed.
func NewRouter(envs []config.Environment, rc RouterConfig) (Router, error) {
	var r Router
	for _, env := range envs {
		var err error
		switch {
		case IsGitHubRepo(env.Repo) && r.GitHub == nil:
			r.GitHub, err = rc.githubWriter()
		case !IsGitHubRepo(env.Repo) && r.Git == nil:
			r.Git, err = rc.localWriter()
		}
		if err != nil {
			return Router{}, err
		}
	}
	return r, nil
}

func (rc RouterConfig) githubWriter() (Writer, error) {
	if rc.GitHub == nil {
		return nil, errors.New("an environment's repo is owner/name, and no GitHub client is configured")
	}
	clients, err := rc.GitHub()
	if err != nil {
		return nil, err
	}
	var src ClientSource = func(ctx context.Context, owner, repo string) (API, error) {
		c, err := clients.Client(ctx, owner, repo)
		if err != nil {
			return API{}, err
		}
		return NewAPI(c), nil
	}
	if rc.DryRun {
		src = DryRun(src)
	}
	return NewGitHubWriter(src, rc.Options...)
}

func (rc RouterConfig) localWriter() (Writer, error) {
	opts := rc.Options
	if rc.Author != (Author{}) {
		opts = append(slices.Clip(opts), WithAuthor(rc.Author.Name, rc.Author.Email))
	}
	var local []LocalOption
	if rc.DryRun {
		local = append(local, WithPusher(DryRunPusher{}))
	}
	return NewLocalWriter(opts, local...)
}
