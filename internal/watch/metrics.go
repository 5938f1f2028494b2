package watch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the watcher's Prometheus series, registered on a registry the
// caller owns (never the global default), so tests and several watchers in
// one process do not collide.
type Metrics struct {
	polls            *prometheus.CounterVec
	registryRequests *prometheus.CounterVec
	promotions       *prometheus.CounterVec
	gateBlocks       *prometheus.CounterVec
	webhookEvents    *prometheus.CounterVec
	lastSuccess      prometheus.Gauge
	cycleSeconds     prometheus.Histogram
	pushToPromotion  prometheus.Histogram
	tagsTruncated    prometheus.Counter
}

// NewMetrics creates the watcher's series and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "automator_watch"
	m := &Metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "polls_total",
			Help: "Repository checks by trigger (poll, webhook) and result (changed, unchanged, error)."}, []string{"trigger", "result"}),
		registryRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "registry_requests_total",
			Help: "HTTP requests sent to registries, by host, method and status code (\"error\" for transport failures)."}, []string{"host", "method", "code"}),
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "promotions_total",
			Help: "Promotions attempted, by environment and result (promoted, unchanged, blocked, held, frozen, error)."}, []string{"environment", "result"}),
		gateBlocks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "gate_blocks_total",
			Help: "Promotions refused by the vulnerability gate, by environment."}, []string{"environment"}),
		webhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "webhook_events_total",
			Help: "Webhook deliveries by source and result."}, []string{"source", "result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "last_successful_cycle_timestamp_seconds",
			Help: "Unix time at which the last cycle without errors finished."}),
		cycleSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "cycle_duration_seconds",
			Help: "Wall time of one poll cycle over all repositories of this shard.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
		pushToPromotion: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "time_to_promotion_seconds",
			Help:    "Seconds from when the watcher first saw the tag (poll) or was told of it (webhook) to the promotion commit or pull request.",
			Buckets: []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600}}),
		tagsTruncated: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "tag_lists_truncated_total",
			Help: "Tag lists cut at watch.maxTags."}),
	}
	for _, c := range []prometheus.Collector{m.polls, m.registryRequests, m.promotions, m.gateBlocks, m.webhookEvents,
		m.lastSuccess, m.cycleSeconds, m.pushToPromotion, m.tagsTruncated} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveWebhook counts one webhook delivery; it satisfies the webhook
// package's observer function.
func (m *Metrics) ObserveWebhook(source, result string) {
	m.webhookEvents.WithLabelValues(source, result).Inc()
}

// observeTimeToPromotion records a promotion of a tag first seen at seen.
// The image's created time is not used: reproducible builds set it to the
// commit time, which may be years before the push.
func (m *Metrics) observeTimeToPromotion(seen, now time.Time) {
	if seen.IsZero() || now.Before(seen) {
		return
	}
	m.pushToPromotion.Observe(now.Sub(seen).Seconds())
}
