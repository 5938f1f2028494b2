package main

import (
	"github.com/spf13/cobra"

	"github.com/deployment-automator/automator/internal/actions"
)

// actionArgs is the command line of the action's inputs (actions.Args),
// with root's subcommands and their flags.
func actionArgs(root *cobra.Command, getenv func(string) string) []string {
	return actions.Args(getenv, func(args []string) (func(string) bool, bool) {
		sub, _, err := root.Find(args)
		if err != nil || sub == root {
			return nil, false
		}
		return func(flag string) bool { return sub.Flags().Lookup(flag) != nil }, true
	})
}
