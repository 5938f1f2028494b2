package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/transport"
	"github.com/deployment-automator/automator/internal/watch"
	"github.com/deployment-automator/automator/internal/webhook"
)

func newWatchCmd(a *app) *cobra.Command {
	var (
		once      bool
		listen    string
		opsListen string
		shardFlag string
		grace     time.Duration
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "watch [--once] [--listen ADDR] [--shard I/N]",
		Short: "Watch registries and promote new tags that match the watch rules",
		Long: `Polls the image repositories of watch.rules (one tag list per repository per cycle; a manifest is
fetched only for the one tag a policy selects), compares with what each environment of the manifests
repository runs now, and promotes newer images through the same gate and write-back as run/promote.

With --listen, webhook receivers for CNCF distribution, Docker Hub, Harbor, GitHub (GHCR) and a generic
sender are served under /webhooks/<source>; a valid event checks that one repository at once. They need
the shared secret named by watch.webhookSecretEnv. /healthz, /readyz and /metrics are served on
--ops-listen (or on --listen when --ops-listen is empty).

The manifests repository is the only state: a restart re-derives everything, SIGTERM stops taking work
and lets in-flight promotions finish within --grace, and --shard I/N splits repositories across replicas.

` + exitCodesHelp,
		Args: cobra.NoArgs,
		Example: `  # One cycle, cron-style; exit 3 if a gate blocked a promotion
  automator watch --once

  # Long-running, with webhooks on :8080 and health/metrics on :9090
  WEBHOOK_SECRET=... automator watch --listen :8080 --ops-listen :9090

  # Replica 1 of 3 (e.g. the StatefulSet ordinal)
  automator watch --listen :8080 --ops-listen :9090 --shard 1/3

  # Show what would be promoted, writing nothing
  automator watch --once --dry-run`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if cfg.Watch == nil || len(cfg.Watch.Rules) == 0 {
				return usageErrorf("%s: watch.rules is empty: nothing to watch", a.configPath)
			}
			var shard watch.Shard
			if shardFlag != "" {
				if shard, err = watch.ParseShard(shardFlag); err != nil {
					return &usageError{err: err}
				}
			}
			var secret []byte
			if listen != "" {
				if cfg.Watch.WebhookSecretEnv == "" || a.getenv(cfg.Watch.WebhookSecretEnv) == "" {
					return usageErrorf("--listen serves webhooks, which need a shared secret: set watch.webhookSecretEnv and that variable")
				}
				secret = []byte(a.getenv(cfg.Watch.WebhookSecretEnv))
				a.redactor.AddKnown(string(secret))
			}
			return a.runWatch(cmd.Context(), cfg, watchFlags{once: once, listen: listen, opsListen: opsListen,
				shard: shard, grace: grace, dryRun: dryRun, secret: secret})
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one cycle and exit (0 ok, 1 a check failed, 3 a gate blocked)")
	cmd.Flags().StringVar(&listen, "listen", "", "address for webhook receivers, e.g. :8080")
	cmd.Flags().StringVar(&opsListen, "ops-listen", "", "address for /healthz, /readyz, /metrics (default: on --listen)")
	cmd.Flags().StringVar(&shardFlag, "shard", "", "watch only shard I of N (I/N, 0-based), by a stable hash of the repository")
	cmd.Flags().DurationVar(&grace, "grace", 30*time.Second, "how long in-flight promotions may finish after SIGTERM")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "decide and log promotions, write nothing")
	return cmd
}

type watchFlags struct {
	once              bool
	listen, opsListen string
	shard             watch.Shard
	grace             time.Duration
	dryRun            bool
	secret            []byte
}

func (a *app) runWatch(ctx context.Context, cfg *config.Config, f watchFlags) error {
	log := a.logger.Named("watch")
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := watch.NewMetrics(promReg)
	if err != nil {
		return err
	}
	rr, err := a.registryClient(cfg, registry.WithLogger(log.Named("registry")),
		registry.WithRequestObserver(m.ObserveRegistryRequest), registry.WithDefaultRPS(transport.DefaultRPS))
	if err != nil {
		return err
	}
	// Promotions go through the same gate and write-back as run: each new
	// image is scanned by digest (once, whatever the number of
	// environments) and blocked where the environment's policy says so.
	g, closeGate, err := a.newGate(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeGate()
	p, err := a.promoter(ctx, cfg, g, f.dryRun)
	if err != nil {
		return err
	}
	wb, err := newWatchWriteBack(p, p.Writer, cfg)
	if err != nil {
		return err
	}
	w, err := watch.New(cfg.Watch, rr, wb, wb, watch.WithLogger(log), watch.WithMetrics(m),
		watch.WithShard(f.shard), watch.WithGrace(f.grace))
	if err != nil {
		return &usageError{err: err}
	}
	log.Info("watching", zap.Int("repositories", len(w.Repositories())), zap.Stringer("shard", f.shard),
		zap.Bool("once", f.once), zap.Bool("dryRun", f.dryRun))
	if f.once {
		_, err := w.RunOnce(ctx)
		return err
	}

	ops := watch.OpsHandler(w.Ready, promReg)
	var servers []*http.Server
	serve := func(addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
		servers = append(servers, srv)
		log.Info("serving", zap.String("addr", ln.Addr().String()))
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", zap.String("addr", addr), zap.Error(err))
			}
		}()
		return nil
	}
	if f.listen != "" {
		hooks, err := webhook.NewHandler(f.secret, w, webhook.WithLogger(log.Named("webhook")), webhook.WithObserver(m.ObserveWebhook))
		if err != nil {
			return &usageError{err: err}
		}
		mux := http.NewServeMux()
		mux.Handle(webhook.PathPrefix, hooks)
		if f.opsListen == "" {
			mux.Handle("/", ops)
		}
		if err := serve(f.listen, mux); err != nil {
			return err
		}
	}
	if f.opsListen != "" {
		if err := serve(f.opsListen, ops); err != nil {
			return err
		}
	}
	runErr := w.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	log.Info("watcher stopped")
	return runErr
}

// watchWriteBack adapts the GitHub write-back to the watcher: it is the
// watcher's CurrentReader (what an environment pins, read through the
// write-back layer) and its Promoter (gitops.Promoter with explicit updates:
// gate, copy, one commit or PR per environment).
//
// Reads are cached per watcher cycle (watch.CycleOf): the first rule of a
// cycle that asks about an environment reads the images of every watch rule
// on that environment in one Writer.Current call, and the cycle's other rules
// are answered from it; concurrent askers wait for that one read. The
// guarantee: a decision rests on a read made during its own cycle, after the
// latest promotion this process made to that environment (a promotion drops
// the environment's entry). A new cycle (the next poll, a webhook-triggered
// check) reads again, and only the latest cycle's read of an environment is
// kept. Outside a cycle every call reads. Failed reads are not cached.
type watchWriteBack struct {
	p    *gitops.Promoter
	w    gitops.Writer
	envs map[string]config.Environment
	// images is, per environment, the service → repository map of the
	// watch rules promoting into it.
	images map[string]map[string]string
	mu     sync.Mutex // one promotion at a time

	cacheMu sync.Mutex
	reads   map[string]*envRead // environment → the latest cycle's read
}

// envRead is one read of an environment's images, shared by a cycle.
type envRead struct {
	cycle uint64
	done  chan struct{}
	imgs  []gitops.Image
	err   error
}

// newWatchWriteBack checks that the rules name known environments and
// indexes the images each environment is watched for.
func newWatchWriteBack(p *gitops.Promoter, w gitops.Writer, cfg *config.Config) (*watchWriteBack, error) {
	b := &watchWriteBack{p: p, w: w, envs: map[string]config.Environment{}, images: map[string]map[string]string{}, reads: map[string]*envRead{}}
	for _, e := range cfg.Environments {
		b.envs[e.Name] = e
	}
	for i, r := range cfg.Watch.Rules {
		for _, env := range r.Environments {
			if _, ok := b.envs[env]; !ok {
				return nil, usageErrorf("watch.rules[%d].environments: unknown environment %q", i, env)
			}
			if b.images[env] == nil {
				b.images[env] = map[string]string{}
			}
			// The rule name is the service name in manifests, so the
			// environment's images[] paths for that service apply.
			b.images[env][r.Name] = r.Image
		}
	}
	return b, nil
}

func (b *watchWriteBack) Current(ctx context.Context, envName, image string) (string, string, error) {
	env, ok := b.envs[envName]
	if !ok {
		return "", "", fmt.Errorf("unknown environment %q", envName)
	}
	imgs, err := b.read(ctx, env, image)
	if err != nil {
		return "", "", err
	}
	for _, im := range imgs {
		if im.Repository == image {
			return im.Tag, im.Digest, nil
		}
	}
	return "", "", fmt.Errorf("%s in environment %s: %w", image, envName, watch.ErrNotDeployed)
}

// read returns the images of env's watch rules, from this cycle's read when
// there is one.
func (b *watchWriteBack) read(ctx context.Context, env config.Environment, image string) ([]gitops.Image, error) {
	images := map[string]string{}
	watched := false
	for svc, repo := range b.images[env.Name] {
		images[svc] = repo
		watched = watched || repo == image
	}
	cycle, inCycle := watch.CycleOf(ctx)
	if !watched {
		// Not an image of env's rules: read just it, uncached.
		return b.w.Current(ctx, env, "", map[string]string{"watched": image})
	}
	if !inCycle {
		return b.w.Current(ctx, env, "", images)
	}
	b.cacheMu.Lock()
	r, ok := b.reads[env.Name]
	if !ok || r.cycle != cycle {
		r = &envRead{cycle: cycle, done: make(chan struct{})}
		b.reads[env.Name] = r
		b.cacheMu.Unlock()
		r.imgs, r.err = b.w.Current(ctx, env, "", images)
		if r.err != nil {
			b.forget(env.Name, r)
		}
		close(r.done)
		return r.imgs, r.err
	}
	b.cacheMu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.imgs, nil
}

// forget drops env's cached read (only r, when r is given).
func (b *watchWriteBack) forget(env string, r *envRead) {
	b.cacheMu.Lock()
	defer b.cacheMu.Unlock()
	if cur, ok := b.reads[env]; ok && (r == nil || cur == r) {
		delete(b.reads, env)
	}
}

func (b *watchWriteBack) Promote(ctx context.Context, envName string, u watch.Update) (watch.Outcome, error) {
	env, ok := b.envs[envName]
	if !ok {
		return watch.Outcome{}, fmt.Errorf("unknown environment %q", envName)
	}
	// One write-back per environment at a time within this process; across
	// replicas the write-back's own non-fast-forward retries keep it safe.
	b.mu.Lock()
	defer b.mu.Unlock()
	// Whatever the outcome, the environment may have changed: later rules
	// of this cycle read it again.
	defer b.forget(envName, nil)
	res, err := b.p.Promote(ctx, env, nil, []gitops.Update{{Service: u.Service, Repository: u.Image, Tag: u.Tag, Digest: u.Digest}})
	var blocked *gitops.BlockedError
	if errors.As(err, &blocked) {
		return watch.Outcome{Result: watch.Blocked, Reason: blocked.Error()}, nil
	}
	if err != nil {
		return watch.Outcome{}, err
	}
	if !res.Changed() {
		return watch.Outcome{Result: watch.Unchanged}, nil
	}
	url := res.CommitURL
	if res.PR != nil {
		url = res.PR.URL
	}
	return watch.Outcome{Result: watch.Promoted, URL: url}, nil
}

var (
	_ watch.CurrentReader = (*watchWriteBack)(nil)
	_ watch.Promoter      = (*watchWriteBack)(nil)
)
