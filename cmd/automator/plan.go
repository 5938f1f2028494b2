package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/git"
)

func newPlanCmd(a *app) *cobra.Command {
	var (
		base, head, format, remote string
		all                        bool
		services                   []string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Decide which services changed and must be rebuilt",
		Long: `Works out the commit range from the GitHub event (or --base/--head outside Actions), lists the
changed files with git — deepening a shallow clone as needed, or asking the GitHub compare API
when there is no history to fetch — and selects every service whose build context, Dockerfile
sources, paths, dependencies or automator.yaml entry changed.

In GitHub Actions it also writes the step outputs services (JSON array), matrix (fan-out job
matrix; batched into at most 256 groups) and any (true/false), and a job summary.`,
		Args: cobra.NoArgs,
		Example: `  # What changed between two commits
  automator plan --base main --head HEAD

  # The same as JSON, for scripts
  automator plan --base 3f2a9c1 --head 8d01e4b --format json

  # Everything, or a chosen few
  automator plan --all
  automator plan --services cart,checkout

  # In a workflow step (reads GITHUB_EVENT_NAME / GITHUB_EVENT_PATH, writes GITHUB_OUTPUT)
  automator plan`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json, not %q", format)
			}
			if head != "" && base == "" {
				return usageErrorf("--head needs --base")
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			ev, err := event.FromEnv(a.getenv)
			if err != nil {
				return err
			}
			res, err := a.plan(cmd.Context(), cfg, ev, planFlags{base: base, head: head, all: all, services: services, remote: remote})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				err = res.WriteJSON(out)
			} else {
				err = res.WriteText(out)
			}
			if err != nil {
				return fmt.Errorf("writing plan: %w", err)
			}
			outs, err := res.Outputs()
			if err != nil {
				return err
			}
			if err := a.step().WriteOutputs(outs...); err != nil {
				return err
			}
			return a.step().AppendSummary(res.SummaryMarkdown())
		},
	}
	f := cmd.Flags()
	f.StringVar(&base, "base", "", "diff from this revision (outside Actions)")
	f.StringVar(&head, "head", "", "diff to this revision (default HEAD; needs --base)")
	f.BoolVar(&all, "all", false, "select every service")
	f.StringSliceVar(&services, "services", nil, "select these services (comma separated)")
	f.StringVar(&format, "format", "text", "output format: text or json")
	f.StringVar(&remote, "remote", "origin", "git remote to fetch missing history from")
	cmd.MarkFlagsMutuallyExclusive("base", "all", "services")
	return cmd
}

// comparer returns a GitHub compare API client for the event's repository
// when a token is available, for clones without history; nil otherwise.
// planFlags are the selection flags plan and run share.
type planFlags struct {
	base, head, remote string
	all                bool
	services           []string
}

// plan selects the services to build from the event or the flags.
func (a *app) plan(ctx context.Context, cfg *config.Config, ev *event.Event, f planFlags) (*detect.Result, error) {
	repo, err := git.Open(filepath.Dir(cfg.Source()))
	if err != nil {
		return nil, err
	}
	opts := []detect.Option{detect.WithRepo(repo), detect.WithEvent(ev), detect.WithLogger(a.logger), detect.WithRemote(f.remote)}
	switch {
	case f.base != "":
		opts = append(opts, detect.WithRange(f.base, f.head))
	case f.all:
		opts = append(opts, detect.WithAll())
	}
	if len(f.services) > 0 {
		opts = append(opts, detect.WithServices(f.services...))
	}
	if c, ownerRepo := a.comparer(cfg.GitHub.APIURL, cfg.GitHub.TokenEnv, ev); c != nil {
		opts = append(opts, detect.WithComparer(c, ownerRepo))
	}
	return detect.Plan(ctx, cfg, opts...)
}

func (a *app) comparer(apiURL, tokenEnv string, ev *event.Event) (detect.Comparer, string) {
	repo := a.getenv("GITHUB_REPOSITORY")
	if ev != nil && ev.Repository != "" {
		repo = ev.Repository
	}
	if tokenEnv == "" {
		tokenEnv = "GITHUB_TOKEN"
	}
	token := a.getenv(tokenEnv)
	if repo == "" || token == "" {
		return nil, ""
	}
	client := github.NewClient(nil).WithAuthToken(token)
	if apiURL == "" {
		apiURL = a.getenv("GITHUB_API_URL")
	}
	if apiURL != "" {
		u, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
		if err != nil {
			return nil, ""
		}
		client.BaseURL = u
	}
	return client.Repositories, repo
}
