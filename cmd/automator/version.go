package main

import (
	"fmt"
	"runtime"

	"github.com/deployment-automator/automator/internal/scan"
	"github.com/spf13/cobra"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print version, commit, Go version and where the scanner (automator-scan) is",
		Args:    cobra.NoArgs,
		Example: `  automator version`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			scanner, err := scan.Locate(a.getenv)
			if err != nil {
				scanner = "not found (" + err.Error() + ")"
			}
			_, err = fmt.Fprintf(a.stdout, "automator %s\ncommit: %s\ngo: %s %s/%s\nscanner: %s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, scanner)
			return err
		},
	}
}
