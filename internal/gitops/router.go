package gitops

import (
	"context"
	"fmt"

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
