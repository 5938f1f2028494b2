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
	"github.com/deployment-automator/automator/internal/config"
	ghclient "github.com/deployment-automator/automator/internal/github"
	"github.com/deployment-automator/automator/internal/logging"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/scan"
)

// app carries what every subcommand shares: streams, environment, the logger
// (built once flags are parsed), the redactor, and the factory's lazily built
// dependencies (factory.go): config, targets, gate, registry, GitHub.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	configPath string
	logLevel   string
	logFormat  string

	logger   *zap.Logger
	redactor *logging.Redactor
	started  bool

	cfg      *config.Config
	resolved promote.Targets
	scanGate *pipeline.Gate
	trivy    *scan.Trivy // the gate's scanner, nil when scanning is disabled
	reg      *registry.Client
	gh       *ghclient.Factory
	closers  []func() // run at exit, e.g. closing the scanner

	freezeOverride string // --override-freeze: the emergency override's reason
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
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, redactor: logging.NewRedactor(mask)}
	a.redactor.AddKnownEnv(getenv)
	root := newRootCmd(a)
	if len(args) == 0 && inActions && getenv("INPUT_COMMAND") != "" {
		args = actionArgs(root, getenv)
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(a.redactor.Writer(stdout))
	root.SetErr(a.redactor.Writer(stderr))
	err := root.ExecuteContext(ctx)
	for _, c := range a.closers {
		c()
	}
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
	stderr := a.redactor.Writer(a.stderr)
	var located logging.Located // a config error: its list of problems
	if errors.As(err, &located) {
		if a.getenv("GITHUB_ACTIONS") == "true" {
			logging.AnnotateProblems(a.redactor.Writer(a.stdout), located)
		}
		fmt.Fprintln(stderr, "Error:", err)
		return
	}
	var (
		ue *usageError
		pe *pipeline.UsageError // what cmd's own usage errors were before moving to pipeline
	)
	isUsage := errors.As(err, &ue) || errors.As(err, &pe)
	if a.logger != nil && !isUsage {
		a.logger.Error("command failed", zap.Error(err))
		_ = a.logger.Sync()
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
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "config file (default ./automator.yaml, then ./.github/automator.yaml)")
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
	l, err := logging.New(logging.Options{Format: a.logFormat, Level: a.logLevel, Out: a.stderr, Annotations: ann, Redactor: a.redactor})
	if err != nil {
		return &usageError{err: err}
	}
	a.logger = l
	return nil
}

// config loads the config once, registering every secret it references with
// the redactor before anything can print them.
func (a *app) config() (*config.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, err := config.Open(a.configPath)
	if errors.Is(err, config.ErrNotFound) {
		return nil, &usageError{err: err}
	}
	if err != nil {
		return nil, err
	}
	a.redactor.AddKnown(cfg.SecretValues(a.getenv)...)
	a.cfg = cfg
	return cfg, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
