package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/event"
	ghclient "github.com/deployment-automator/automator/internal/github"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/rewrite"
)

func newPromoteCmd(a *app) *cobra.Command {
	var (
		envName string
		sets    []string
		dryRun  bool
		results string
	)
	cmd := &cobra.Command{
		Use:   "promote --env ENV [--set SERVICE=REF@DIGEST]...",
		Short: "Propose for an environment the digests its promoteFrom environment runs",
		Long: `Reads the images that the environment's promoteFrom environment pins now (from its files in the
manifests repository), copies them into the environment's registry when it differs, and writes
them back by commit or pull request as the environment's mode says. --set promotes explicit
images instead. A re-run updates the same pull request; nothing new changes nothing.`,
		Args: cobra.NoArgs,
		Example: `  # Propose for prod what staging runs now
  automator promote --env prod

  # Show the diff and the pull request it would open, writing nothing
  automator promote --env prod --dry-run

  # Fan-out: write back the results of the matrix build jobs, once per environment
  automator promote --results results/

  # Promote an explicit image
  automator promote --env staging --set cart=ghcr.io/acme/cart:1.4.0@sha256:4f1c...`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if results != "" {
				if len(sets) > 0 {
					return usageErrorf("--results and --set are exclusive")
				}
				return a.promoteResults(cmd, cfg, results, envName, dryRun)
			}
			if envName == "" {
				return usageErrorf("--env is required (or --results DIR)")
			}
			env, err := findEnv(cfg, envName)
			if err != nil {
				return err
			}
			explicit, err := parseSets(cfg, sets)
			if err != nil {
				return err
			}
			var from *config.Environment
			if len(explicit) == 0 {
				if env.PromoteFrom == "" {
					return usageErrorf("environment %q has no promoteFrom: pass --set SERVICE=REF@DIGEST", env.Name)
				}
				if from, err = findEnv(cfg, env.PromoteFrom); err != nil {
					return err
				}
			}
			g, closeGate, err := a.newGate(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer closeGate()
			p, err := a.promoter(cmd.Context(), cfg, g, dryRun)
			if err != nil {
				return err
			}
			res, err := p.Promote(cmd.Context(), *env, from, explicit)
			if res != nil {
				printResult(cmd.OutOrStdout(), res, dryRun)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&envName, "env", "", "environment to promote into (with --results: default the environments whose triggers match the event)")
	cmd.Flags().StringVar(&results, "results", "", "promote the build results in DIR (written by build --results in fan-out jobs)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "explicit image SERVICE=REPOSITORY[:TAG]@DIGEST (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the diff and the pull request; write nothing")
	return cmd
}

// promoteResults writes back the images of build result files into the
// target environments, reusing the scan reports they carry.
func (a *app) promoteResults(cmd *cobra.Command, cfg *config.Config, dir, envName string, dryRun bool) error {
	ctx := cmd.Context()
	images, err := pipeline.ReadResults(dir)
	if err != nil {
		return &usageError{err: err}
	}
	ev, err := event.FromEnv(a.getenv)
	if err != nil {
		return err
	}
	var names []string
	if envName != "" {
		names = []string{envName}
	}
	envs, err := pipeline.Targets(cfg, ev, names)
	if err != nil {
		return err
	}
	g, closeGate, err := a.newGate(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeGate()
	for _, im := range images {
		if im.Report != nil {
			g.Remember(im.Report, im.Digest)
		}
	}
	p, err := a.promoter(ctx, cfg, g, dryRun)
	if err != nil {
		return err
	}
	w := &pipeline.WriteStage{Promoter: p, Config: cfg, Logger: a.logger.Named("writeback")}
	outcomes := w.Run(ctx, envs, pipeline.Updates(images, true))
	if err := a.reportRun(cmd.OutOrStdout(), images, outcomes, dryRun); err != nil {
		return err
	}
	return pipeline.Err(outcomes)
}

func findEnv(cfg *config.Config, name string) (*config.Environment, error) {
	for i := range cfg.Environments {
		if cfg.Environments[i].Name == name {
			return &cfg.Environments[i], nil
		}
	}
	names := make([]string, len(cfg.Environments))
	for i, e := range cfg.Environments {
		names[i] = e.Name
	}
	return nil, usageErrorf("unknown environment %q (have: %s)", name, strings.Join(names, ", "))
}

// parseSets parses --set SERVICE=REPOSITORY[:TAG]@DIGEST; a bare
// SERVICE=[TAG]@DIGEST takes the service's configured image.
func parseSets(cfg *config.Config, sets []string) ([]gitops.Update, error) {
	images := gitops.ImagesFromConfig(cfg)
	var out []gitops.Update
	for _, s := range sets {
		svc, ref, ok := strings.Cut(s, "=")
		if !ok || svc == "" || ref == "" {
			return nil, usageErrorf("--set %q: want SERVICE=REPOSITORY[:TAG]@DIGEST", s)
		}
		repo := images[svc]
		if strings.Contains(ref, "/") {
			name, rest, _ := strings.Cut(ref, "@")
			if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
				repo, ref = name[:i], name[i+1:]+"@"+rest
			} else {
				repo, ref = name, "@"+rest
			}
		}
		if repo == "" {
			return nil, usageErrorf("--set %q: unknown service %q; name the repository: %s=REPOSITORY:TAG@DIGEST", s, svc, svc)
		}
		tag, digest, err := rewrite.ParseRef(ref)
		if err != nil {
			return nil, usageErrorf("--set %q: %v", s, err)
		}
		if digest == "" {
			return nil, usageErrorf("--set %q: promotion pins digests: add @sha256:…", s)
		}
		out = append(out, gitops.Update{Service: svc, Repository: repo, Tag: tag, Digest: digest})
	}
	return out, nil
}

// gitopsWriter builds the write-back for every environment of cfg: a Router
// that sends owner/name repos to the GitHub writer (every installation token
// it mints is registered with the redactor and masked in Actions) and git
// URLs or paths to the local git writer. The GitHub side is only built when
// an environment needs it, so a git-only configuration needs no GitHub auth.
func (a *app) gitopsWriter(ctx context.Context, cfg *config.Config, dryRun bool) (gitops.Writer, error) {
	serverURL := ghclient.ServerURL(cfg.GitHub, a.getenv)
	shared := []gitops.Option{gitops.WithServerURL(serverURL), gitops.WithLogger(a.logger.Named("gitops"))}
	var r gitops.Router
	for _, env := range cfg.Environments {
		if gitops.IsGitHubRepo(env.Repo) && r.GitHub == nil {
			w, err := a.githubWriter(cfg, dryRun, shared)
			if err != nil {
				return nil, err
			}
			r.GitHub = w
		}
		if !gitops.IsGitHubRepo(env.Repo) && r.Git == nil {
			opts := shared
			if name, email := a.getenv("GIT_AUTHOR_NAME"), a.getenv("GIT_AUTHOR_EMAIL"); name != "" && email != "" {
				opts = append(opts, gitops.WithAuthor(name, email))
			}
			var local []gitops.LocalOption
			if dryRun {
				local = append(local, gitops.WithPusher(gitops.DryRunPusher{}))
			}
			w, err := gitops.NewLocalWriter(opts, local...)
			if err != nil {
				return nil, &usageError{err: err}
			}
			r.Git = w
		}
	}
	return gitops.Redacting(r, a.redactor.Redact), nil
}

// githubWriter builds the GitHub writer from cfg.GitHub.
func (a *app) githubWriter(cfg *config.Config, dryRun bool, opts []gitops.Option) (*gitops.GitHubWriter, error) {
	ghOpts, err := ghclient.ConfigOptions(cfg.GitHub, a.getenv)
	if err != nil {
		return nil, &usageError{err: err}
	}
	if err := a.announceTokenFallback(cfg.GitHub); err != nil {
		return nil, err
	}
	ghOpts = append(ghOpts, ghclient.WithNetwork(cfg.Network), ghclient.WithLogger(a.logger.Named("github")), ghclient.WithUserAgent("automator/"+version),
		ghclient.WithTokenObserver(func(tok string) { a.redactor.Add(tok) }))
	f, err := ghclient.New(ghOpts...)
	if err != nil {
		return nil, &usageError{err: err}
	}
	var src gitops.ClientSource = func(ctx context.Context, owner, repo string) (gitops.API, error) {
		c, err := f.Client(ctx, owner, repo)
		if err != nil {
			return gitops.API{}, err
		}
		return gitops.NewAPI(c), nil
	}
	if dryRun {
		src = gitops.DryRun(src)
	}
	return gitops.NewGitHubWriter(src, opts...)
}

// registryCopier adapts the registry client to gitops.Copier.
type registryCopier struct{ c *registry.Client }

func (r registryCopier) Copy(ctx context.Context, src, dst string) (string, error) {
	res, err := r.c.Copy(ctx, src, dst, false)
	if err != nil {
		return "", err
	}
	return res.Digest.String(), nil
}

// printResult prints what a write-back did, or with dryRun what it would do.
func printResult(w io.Writer, res *gitops.Result, dryRun bool) {
	verb := map[bool]string{true: "would ", false: ""}[dryRun]
	if len(res.Files) == 0 {
		fmt.Fprintf(w, "%s: nothing to change (%s@%s already runs these images)\n", res.Env, res.Repo, res.Branch)
		return
	}
	fmt.Fprint(w, res.Diff())
	switch {
	case res.PR != nil && res.PR.Created:
		fmt.Fprintf(w, "%s: %sopen pull request %q (%s → %s) %s\n", res.Env, verb, res.PR.Title, res.PR.Branch, res.Branch, res.PR.URL)
	case res.PR != nil && res.PR.Updated:
		fmt.Fprintf(w, "%s: %supdate pull request #%d %s\n", res.Env, verb, res.PR.Number, res.PR.URL)
	case res.PR != nil:
		fmt.Fprintf(w, "%s: pull request #%d is up to date %s\n", res.Env, res.PR.Number, res.PR.URL)
	case res.Commit != "":
		fmt.Fprintf(w, "%s: %scommit to %s@%s %s\n", res.Env, verb, res.Repo, res.Branch, map[bool]string{true: "", false: res.CommitURL}[dryRun])
	}
	// A local git remote has no pull request API: the pushed branch plus
	// this text is the pull request.
	if res.PR != nil && (dryRun || res.PR.URL == "") {
		fmt.Fprintf(w, "\n--- pull request: %s ---\n%s\n", res.PR.Title, res.PR.Body)
	}
}
