package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/webhook"
)

// OpsHandler serves the operational endpoints: /healthz answers 200 while
// the process can serve HTTP at all (liveness), /readyz answers 200 once
// ready() is true (config loaded and first cycle done) and 503 before, and
// /metrics exposes the series of gatherer (a private registry).
func OpsHandler(ready func() bool, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "first cycle not done\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// Listen serves h on addr in the background until the returned server is
// shut down; a serving failure after the listener is up is logged.
func Listen(addr string, h http.Handler, log *zap.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	log.Info("serving", zap.String("addr", ln.Addr().String()))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.String("addr", addr), zap.Error(err))
		}
	}()
	return srv, nil
}

// NewMetricsRegistry is the watcher's private Prometheus registry: the Go
// runtime and process collectors and the watcher's own series (the returned
// Metrics), all that /metrics exposes.
func NewMetricsRegistry() (*prometheus.Registry, *Metrics, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, err
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	return reg, m, nil
}

// ServeConfig says which listeners Serve starts and what they serve.
type ServeConfig struct {
	// Listen is the webhook address (webhook.PathPrefix); it serves the ops
	// endpoints too when OpsListen is empty. Empty: no webhook listener.
	Listen string
	// OpsListen is a separate address for /healthz, /readyz and /metrics.
	OpsListen string
	// Secret is the webhooks' shared secret; Listen needs one.
	Secret []byte
	// Trigger receives verified webhook deliveries (the Watcher).
	Trigger webhook.Trigger
	// Ready answers /readyz (Watcher.Ready).
	Ready func() bool
	// Gatherer is what /metrics exposes (NewMetricsRegistry's registry).
	Gatherer prometheus.Gatherer
	// Metrics counts webhook deliveries; nil counts nothing.
	Metrics *Metrics
	// Status serves GET /status on the ops endpoints (a StatusBoard); nil
	// serves no page.
	Status http.Handler
}

// Serve starts the listeners c asks for, in the background. On error the
// servers already started are returned with it.
func Serve(c ServeConfig, log *zap.Logger) ([]*http.Server, error) {
	ops := OpsHandler(c.Ready, c.Gatherer)
	if c.Status != nil {
		ops = withStatus(ops, c.Status)
	}
	var servers []*http.Server
	if c.Listen != "" {
		opts := []webhook.Option{webhook.WithLogger(log.Named("webhook"))}
		if c.Metrics != nil {
			opts = append(opts, webhook.WithObserver(c.Metrics.ObserveWebhook))
		}
		hooks, err := webhook.NewHandler(c.Secret, c.Trigger, opts...)
		if err != nil {
			return servers, fmt.Errorf("serving webhooks: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle(webhook.PathPrefix, hooks)
		if c.OpsListen == "" {
			mux.Handle("/", ops)
		}
		srv, err := Listen(c.Listen, mux, log)
		if err != nil {
			return servers, err
		}
		servers = append(servers, srv)
	}
	if c.OpsListen != "" {
		srv, err := Listen(c.OpsListen, ops, log)
		if err != nil {
			return servers, err
		}
		servers = append(servers, srv)
	}
	return servers, nil
}

// Shutdown stops servers, letting requests in flight finish for at most
// grace; it outlives ctx's cancellation (a SIGTERM is what stops the
// watcher, and the servers still get their grace).
func Shutdown(ctx context.Context, servers []*http.Server, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
}

// withStatus adds GET /status (the status page) to the ops endpoints.
func withStatus(ops, page http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /status", page)
	mux.Handle("/", ops)
	return mux
}
