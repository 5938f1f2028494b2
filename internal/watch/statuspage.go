package watch

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	matrix "github.com/deployment-automator/automator/internal/status"
)

// StatusBoard keeps the what-runs-where matrix (internal/status) fresh for
// the ops port: GET /status serves it as the self-contained HTML page
// (?format=json for JSON), and as a Prometheus collector it exports per
// service and environment automator_watch_deployed_info{environment,
// service,tag,digest} (always 1) and automator_watch_deployed_age_seconds
// {environment,service} (since the commit that pinned the value).
//
// Reading the matrix costs GitHub API calls (status' budget), so it is read
// at most once per TTL, whatever the number of page views and scrapes;
// scrapes never read, they export the last matrix read.
type StatusBoard struct {
	read func(ctx context.Context) (*matrix.Matrix, error)
	ttl  time.Duration
	now  func() time.Time
	log  *zap.Logger

	mu   sync.Mutex
	last *matrix.Matrix
	at   time.Time

	info *prometheus.Desc
	age  *prometheus.Desc
}

// NewStatusBoard reads the matrix with read, at most once per ttl.
func NewStatusBoard(read func(ctx context.Context) (*matrix.Matrix, error), ttl time.Duration, log *zap.Logger) *StatusBoard {
	if log == nil {
		log = zap.NewNop()
	}
	const ns = "automator_watch"
	return &StatusBoard{read: read, ttl: ttl, now: time.Now, log: log,
		info: prometheus.NewDesc(ns+"_deployed_info", "The image each environment's manifests pin for each service (always 1).",
			[]string{"environment", "service", "tag", "digest"}, nil),
		age: prometheus.NewDesc(ns+"_deployed_age_seconds", "Seconds since the commit that pinned each environment's image for each service.",
			[]string{"environment", "service"}, nil),
	}
}

// Matrix returns the matrix, read again when the last is older than the
// TTL; a failed read keeps serving the last one (and returns the error
// when there is none).
func (b *StatusBoard) Matrix(ctx context.Context) (*matrix.Matrix, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last != nil && b.now().Sub(b.at) < b.ttl {
		return b.last, nil
	}
	m, err := b.read(ctx)
	if err != nil && m == nil {
		b.log.Warn("reading status", zap.Error(err))
		if b.last != nil {
			return b.last, nil
		}
		return nil, err
	}
	b.last, b.at = m, b.now()
	return m, nil
}

// Run refreshes the matrix every TTL until ctx ends, so that scrapes export
// current values without a page view.
func (b *StatusBoard) Run(ctx context.Context) {
	t := time.NewTicker(b.ttl)
	defer t.Stop()
	for {
		_, _ = b.Matrix(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ServeHTTP serves the page (or JSON with ?format=json).
func (b *StatusBoard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, err := b.Matrix(r.Context())
	if err != nil {
		http.Error(w, "status unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	f, ctype := matrix.HTML, "text/html; charset=utf-8"
	if r.URL.Query().Get("format") == "json" {
		f, ctype = matrix.JSON, "application/json"
	}
	var buf bytes.Buffer
	if err := matrix.Render(&buf, m, f); err != nil {
		http.Error(w, "rendering status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}

// Describe implements prometheus.Collector.
func (b *StatusBoard) Describe(ch chan<- *prometheus.Desc) {
	ch <- b.info
	ch <- b.age
}

// Collect implements prometheus.Collector with the last matrix read.
func (b *StatusBoard) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	m := b.last
	b.mu.Unlock()
	if m == nil {
		return
	}
	now := b.now()
	for _, r := range m.Rows {
		ch <- prometheus.MustNewConstMetric(b.info, prometheus.GaugeValue, 1, r.Env, r.Service, r.Tag, r.Digest)
		if r.Since != nil {
			ch <- prometheus.MustNewConstMetric(b.age, prometheus.GaugeValue, r.Age(now).Seconds(), r.Env, r.Service)
		}
	}
}
