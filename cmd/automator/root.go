package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/factory"
	"github.com/deployment-automator/automator/internal/logging"
	"github.com/deployment-automator/automator/internal/pipeline"
)

// app carries what every subcommand shares: streams, environment, the log
// flags, and the lazy dependency factory (internal/factory): config,
// targets, gate, registry, GitHub, writer, promoter, logger, redactor.
type app struct {
	factory.Factory

	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	logLevel  string
	logFormat string
	started   bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	inActions := getenv("GITHUB_ACTIONS") == "true"
	if inActions {
		getenv = actions.Env(getenv)
	}
	var mask io.Writer
	if inActions {
		mask = stdout
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv,
		Factory: factory.Factory{Getenv: getenv, Redactor: logging.NewRedactor(mask), Stdout: stdout, UserAgent: "automator/" + version, Version: version}}
	a.Redactor.AddKnownEnv(getenv)
	root := newRootCmd(a)
	if len(args) == 0 && inActions && getenv("INPUT_COMMAND") != "" {
		args = actionArgs(root, getenv)
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(a.Redactor.Writer(stdout))
	root.SetErr(a.Redactor.Writer(stderr))
	err := root.ExecuteContext(ctx)
	a.Close()
	if err == nil {
		return exitOK
	}
	if !a.started {
		err = &usageError{err: err}
	}
	a.reportError(err)
	return exitCode(err)
}

// reportError prints the final error once. A config error is printed as its
// list of file:line:column problems (and, in Actions, one annotation each);
// other errors go through the logger when it exists.
func (a *app) reportError(err error) {
	stderr := a.Redactor.Writer(a.stderr)
	var located logging.Located // a config error: its list of problems
	if errors.As(err, &located) {
		if a.getenv("GITHUB_ACTIONS") == "true" {
			logging.AnnotateProblems(a.Redactor.Writer(a.stdout), located)
		}
		fmt.Fprintln(stderr, "Error:", err)
		return
	}
	var (
		ue *usageError
		pe *pipeline.UsageError // usage errors of pipeline and internal/factory
	)
	isUsage := errors.As(err, &ue) || errors.As(err, &pe)
	if a.Logger != nil && !isUsage {
		a.Logger.Error("command failed", zap.Error(err))
		_ = a.Logger.Sync()
		return
	}
	fmt.Fprintln(stderr, "Error:", err)
	if isUsage {
		fmt.Fprintln(stderr, "Run 'automator --help' for usage.")
	}
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "automator",
		Short:         "Carry container images from an app monorepo into a GitOps manifests repository",
		Long:          help("root.long") + exitCodesHelp,
		Example:       help("root.example"),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.started = true
			return a.initLogger()
		},
	}
	root.PersistentFlags().StringVar(&a.ConfigPath, "config", "", "config file (default ./automator.yaml, then ./.github/automator.yaml)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", envOr(a.getenv, "AUTOMATOR_LOG_LEVEL", "info"), "log level: "+strings.Join(logging.Levels, ", "))
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", envOr(a.getenv, "AUTOMATOR_LOG_FORMAT", "console"), "log format: "+strings.Join(logging.Formats, ", "))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })

	root.AddCommand(
		newVersionCmd(a),
		newConfigCmd(a),
		newBuildCmd(a),
		newCopyCmd(a),
		newRewriteCmd(a),
		newPromoteCmd(a),
		newRollbackCmd(a),
		newHoldCmd(a, false),
		newHoldCmd(a, true),
		newStatusCmd(a),
		newChatopsCmd(a),
		newPlanCmd(a),
		newRunCmd(a),
		newWatchCmd(a),
		newScanCmd(a),
		newVerifyCmd(a),
	)
	return root
}

func (a *app) initLogger() error {
	var ann io.Writer
	if a.getenv("GITHUB_ACTIONS") == "true" {
		ann = a.stdout
	}
	l, err := logging.New(logging.Options{Format: a.logFormat, Level: a.logLevel, Out: a.stderr, Annotations: ann, Redactor: a.Redactor})
	if err != nil {
		return &usageError{err: err}
	}
	a.Logger = l
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
