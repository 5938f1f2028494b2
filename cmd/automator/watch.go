package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/status"
	"github.com/deployment-automator/automator/internal/watch"
)

type watchOptions struct {
	once               bool
	listen, opsListen  string
	shardFlag          string
	shard              watch.Shard
	grace, statusEvery time.Duration
	dryRun             bool
	secret             []byte
}

func newWatchCmd(a *app) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:     "watch [--once] [--listen ADDR] [--shard I/N]",
		Short:   "Watch registries and promote new tags that match the watch rules",
		Long:    help("watch.long") + exitCodesHelp,
		Args:    cobra.NoArgs,
		Example: help("watch.example"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.Config()
			if err != nil {
				return err
			}
			if err := o.complete(a, cfg); err != nil {
				return err
			}
			return watchRun(cmd.Context(), a, cfg, &o)
		},
	}
	cmd.Flags().BoolVar(&o.once, "once", false, "run one cycle and exit (0 ok, 1 a check failed, 3 a gate blocked)")
	cmd.Flags().StringVar(&o.listen, "listen", "", "address for webhook receivers, e.g. :8080")
	cmd.Flags().StringVar(&o.opsListen, "ops-listen", "", "address for /healthz, /readyz, /metrics (default: on --listen)")
	cmd.Flags().StringVar(&o.shardFlag, "shard", "", "watch only shard I of N (I/N, 0-based; I may be a StatefulSet pod name NAME-I), by a stable hash of the repository")
	cmd.Flags().DurationVar(&o.grace, "grace", 30*time.Second, "how long in-flight promotions may finish after SIGTERM")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "decide and log promotions, write nothing")
	overrideFreezeFlag(cmd, a)
	cmd.Flags().DurationVar(&o.statusEvery, "status-every", 0, "read the status matrix this often for the deployed_* metrics (0: only when /status is viewed, at most once a minute)")
	return cmd
}

// complete validates the flags against the config: rules to watch, the
// shard, and the webhook secret --listen needs.
func (o *watchOptions) complete(a *app, cfg *config.Config) error {
	c, err := watch.Flags{Shard: o.shardFlag, Listen: o.listen}.Check(cfg.Watch, a.ConfigPath, a.getenv)
	if err != nil {
		return &usageError{err: err}
	}
	o.shard, o.secret = c.Shard, c.Secret
	a.Redactor.AddKnown(string(o.secret))
	return nil
}

func watchRun(ctx context.Context, a *app, cfg *config.Config, o *watchOptions) error {
	log := a.Logger.Named("watch")
	promReg, m, err := watch.NewMetricsRegistry()
	if err != nil {
		return err
	}
	w, err := a.Watcher(ctx, cfg, o.dryRun, m, log, watch.WithShard(o.shard), watch.WithGrace(o.grace))
	if err != nil {
		return err
	}
	log.Info("watching", zap.Int("repositories", len(w.Repositories())), zap.Stringer("shard", o.shard),
		zap.Bool("once", o.once), zap.Bool("dryRun", o.dryRun))
	if o.once {
		_, err := w.RunOnce(ctx)
		return err
	}
	board := watch.NewStatusBoard(func(ctx context.Context) (*status.Matrix, error) {
		return a.Status(ctx, nil, status.DefaultHistory)
	}, max(o.statusEvery, time.Minute), log.Named("status"))
	if err := promReg.Register(board); err != nil {
		return err
	}
	if o.statusEvery > 0 {
		go board.Run(ctx)
	}
	servers, err := watch.Serve(watch.ServeConfig{Listen: o.listen, OpsListen: o.opsListen, Secret: o.secret,
		Trigger: w, Ready: w.Ready, Gatherer: promReg, Metrics: m, Status: board}, log)
	if err != nil {
		return err
	}
	runErr := w.Run(ctx)
	watch.Shutdown(ctx, servers, 5*time.Second)
	log.Info("watcher stopped")
	return runErr
}
