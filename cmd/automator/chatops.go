package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/chatops"
	"github.com/deployment-automator/automator/internal/event"
	"github.com/deployment-automator/automator/internal/status"
)

type chatopsOptions struct{ permissions []string }

func newChatopsCmd(a *app) *cobra.Command {
	var o chatopsOptions
	cmd := &cobra.Command{
		Use:     "chatops [--permission ENV=ROLE]...",
		Short:   "Run the /automator command of the pull request comment that triggered the workflow",
		Long:    help("chatops.long"),
		Args:    cobra.NoArgs,
		Example: help("chatops.example"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return chatopsRun(cmd.Context(), a, &o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVar(&o.permissions, "permission", nil, "repository role ENV needs for promote, rollback, hold and release, ENV=ROLE (repeatable)")
	return cmd
}

func chatopsRun(ctx context.Context, a *app, o *chatopsOptions, out io.Writer) error {
	policy := chatops.DefaultPolicy()
	if err := policy.ParsePermissions(o.permissions); err != nil {
		return &usageError{err: err}
	}
	ev, err := event.FromEnv(a.getenv)
	if err != nil {
		return err
	}
	if ev.Kind != event.Comment {
		return usageErrorf("chatops runs on issue_comment events, not %q", ev.Name)
	}
	owner, repo, ok := strings.Cut(ev.OwnerRepo(a.getenv), "/")
	if !ok {
		return usageErrorf("chatops: the event names no repository")
	}
	ts, err := a.Targets()
	if err != nil {
		return err
	}
	f, err := a.GitHub()
	if err != nil {
		return err
	}
	client, err := f.Client(ctx, owner, repo)
	if err != nil {
		return err
	}
	p, err := a.Promoter(ctx, false)
	if err != nil {
		return err
	}
	matrix := func(ctx context.Context) (*status.Matrix, error) { return a.Status(ctx, nil, status.DefaultHistory) }
	h := &chatops.Handler{API: chatops.NewAPI(client), Owner: owner, Repo: repo, Targets: ts, Policy: policy,
		Work: chatops.Promoter{Promoter: p, Matrix: matrix}, Logger: a.Logger.Named("chatops")}
	res, err := h.Handle(ctx, ev.Comment)
	if res != nil && res.Skipped != "" {
		fmt.Fprintf(out, "nothing to do: %s\n", res.Skipped)
	} else if res != nil {
		fmt.Fprintln(out, res.Reply)
	}
	return err
}
