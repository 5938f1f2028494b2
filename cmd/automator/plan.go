package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/detect"
	"github.com/deployment-automator/automator/internal/event"
)

// planFlags are the selection flags plan and run share.
type planFlags struct{ detect.Selection }

// register adds the selection flags; the services flag is named svcFlag.
func (f *planFlags) register(cmd *cobra.Command, svcFlag, allHelp, svcHelp string) {
	fs := cmd.Flags()
	fs.StringVar(&f.Base, "base", "", "diff from this revision (outside Actions)")
	fs.StringVar(&f.Head, "head", "", "diff to this revision (default HEAD; needs --base)")
	fs.BoolVar(&f.All, "all", false, allHelp)
	fs.StringSliceVar(&f.Services, svcFlag, nil, svcHelp)
	fs.StringVar(&f.Remote, "remote", "origin", "git remote to fetch missing history from")
	cmd.MarkFlagsMutuallyExclusive("base", "all", svcFlag)
}

func (f *planFlags) validate() error {
	if f.Head != "" && f.Base == "" {
		return usageErrorf("--head needs --base")
	}
	return nil
}

type planOptions struct {
	flags  planFlags
	format string
}

func newPlanCmd(a *app) *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:     "plan",
		Short:   "Decide which services changed and must be rebuilt",
		Long:    help("plan.long"),
		Args:    cobra.NoArgs,
		Example: help("plan.example"),
		PreRunE: func(*cobra.Command, []string) error {
			if o.format != "text" && o.format != "json" {
				return usageErrorf("--format must be text or json, not %q", o.format)
			}
			return o.flags.validate()
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return planRun(cmd, a, &o) },
	}
	o.flags.register(cmd, "services", "select every service", "select these services (comma separated)")
	cmd.Flags().StringVar(&o.format, "format", "text", "output format: text or json")
	return cmd
}

func planRun(cmd *cobra.Command, a *app, o *planOptions) error {
	ev, err := event.FromEnv(a.getenv)
	if err != nil {
		return err
	}
	res, err := a.Plan(cmd.Context(), ev, o.flags.Selection)
	if err != nil {
		return err
	}
	if err := res.Write(cmd.OutOrStdout(), o.format); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	outs, err := res.Outputs()
	if err != nil {
		return err
	}
	return a.Publish(outs, res.SummaryMarkdown())
}
