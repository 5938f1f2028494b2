package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/status"
)

type statusOptions struct {
	envs    []string
	format  string
	output  string
	history int
}

func newStatusCmd(a *app) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:     "status [--env ENV]... [--format table|json|markdown|html]",
		Short:   "Show what every environment runs, since when, how it got there, and its drift",
		Long:    help("status.long"),
		Args:    cobra.NoArgs,
		Example: help("status.example"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return statusRun(cmd.Context(), a, &o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVar(&o.envs, "env", nil, "environment to show (repeatable; default: all)")
	cmd.Flags().StringVar(&o.format, "format", "table", "output format: table, json, markdown or html")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to FILE instead of standard output")
	cmd.Flags().IntVar(&o.history, "history", status.DefaultHistory, "commits of each environment's files to read")
	return cmd
}

// statusRun reads the matrix, prints it, and in Actions writes it to the
// job summary as Markdown.
func statusRun(ctx context.Context, a *app, o *statusOptions, out io.Writer) error {
	f, err := status.ParseFormat(o.format)
	if err != nil {
		return &usageError{err: err}
	}
	m, err := a.Status(ctx, o.envs, o.history)
	if m == nil {
		return err
	}
	if err := status.RenderTo(out, o.output, m, f); err != nil {
		return err
	}
	if err := a.Publish(nil, status.RenderMarkdown(m)); err != nil {
		return err
	}
	return m.Err() // problems, also when no environment could be read
}
