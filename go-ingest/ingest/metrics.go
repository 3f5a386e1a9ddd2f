package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's Prometheus metrics, registered on their own
// registry (served at GET /metrics).
type Metrics struct {
	Registry *prometheus.Registry
	// Requests counts HTTP requests by route and status code.
	Requests *prometheus.CounterVec
	// Events counts events by outcome: stored, duplicate, rejected, unavailable.
	Events *prometheus.CounterVec
	// PublishLatency observes, per batch, the seconds from the first async
	// publish to the last ack.
	PublishLatency prometheus.Histogram
	// InFlight is the number of publishes sent and not yet acknowledged.
	InFlight prometheus.Gauge
	// InFlightRequests is the number of event requests being handled.
	InFlightRequests prometheus.Gauge
}

// NewMetrics creates and registers the metrics, plus the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_ingest_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "footfall_ingest_events_total", Help: "Events by outcome.",
		}, []string{"outcome"}),
		PublishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "footfall_ingest_publish_batch_seconds",
			Help:    "Seconds from a batch's first JetStream publish to its last ack.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "footfall_ingest_publish_inflight", Help: "JetStream publishes sent and not yet acknowledged.",
		}),
		InFlightRequests: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "footfall_ingest_requests_inflight", Help: "Event requests being handled.",
		}),
	}
	m.Registry.MustRegister(m.Requests, m.Events, m.PublishLatency, m.InFlight, m.InFlightRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []Outcome{OutcomeStored, OutcomeDuplicate, OutcomeRejected, OutcomeUnavailable} {
		m.Events.WithLabelValues(string(o))
	}
	return m
}
