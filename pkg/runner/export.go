package runner

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/metrics"
	"github.com/httptrace/httptrace/pkg/otlp"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// export is the aggregation and the exporters that read it, and the
// export of spans.
type export struct {
	agg     *aggregate.Aggregator
	metrics *metrics.Server
	spans   *otlp.Exporter
	// otlpMetrics exports the aggregation over OTLP.
	otlpMetrics *otlp.MetricExporter
	// closed: closeOTLP ran.
	closed bool
}

// otlpCloseTimeout bounds the time spans still waiting, and the last
// metrics, may take to be exported at the end.
const otlpCloseTimeout = 5 * time.Second

// startExport starts what cfg asks for: with metrics.listen, the
// aggregation and the Prometheus endpoint; with an OTLP endpoint, the
// export of spans and of the aggregation's metrics (each unless its
// OTEL_<signal>_EXPORTER is none); with view (the live view), the
// aggregation. Their sinks join the pipeline's.
func startExport(cfg config.Config, tr *tracer.Tracer, clock output.Clock, view bool, log logrus.FieldLogger) (*export, error) {
	x := &export{}
	spans, otlpMetrics := cfg.OTLP.On(config.SignalTraces), cfg.OTLP.On(config.SignalMetrics)
	aggregated := cfg.Metrics.Listen != "" || otlpMetrics || view
	if !spans && !aggregated {
		return x, nil
	}
	router, err := route.NewRouter(cfg.Routes.Patterns)
	if err != nil {
		return nil, err
	}
	all := os.Getenv("OTEL_SERVICE_NAME")
	if all != "" && len(cfg.Services) > 0 {
		log.WithField("OTEL_SERVICE_NAME", all).Warn("OTEL_SERVICE_NAME names every exchange's service: the services of the configuration are not used")
	}
	service := serviceNamer(cfg.Services, all)
	if spans {
		proto, err := cfg.OTLP.Proto(config.SignalTraces)
		if err != nil {
			return nil, err
		}
		x.spans, err = otlp.New(otlp.Options{Endpoint: cfg.OTLP.Endpoint, Protocol: proto, Headers: cfg.OTLP.Headers,
			Router: router, Service: service, Clock: clock, Log: log})
		if err != nil {
			return nil, fmt.Errorf("OTLP export: %w", err)
		}
		log.WithFields(logrus.Fields{"endpoint": otlpEndpoint(cfg.OTLP.Endpoint, config.SignalTraces), "protocol": proto}).Info("exporting spans over OTLP")
	}
	if !aggregated {
		return x, nil
	}
	x.agg = aggregate.New(aggregate.Options{Router: router, MaxRoutes: cfg.Routes.MaxPerService,
		TTL: cfg.Metrics.TTL, Service: service})
	if otlpMetrics {
		proto, err := cfg.OTLP.Proto(config.SignalMetrics)
		if err == nil {
			// Its counters are the tracer's and the spans' (the export
			// adds its own): x.otlpMetrics is not set yet.
			x.otlpMetrics, err = otlp.NewMetrics(otlp.MetricOptions{Endpoint: cfg.OTLP.Endpoint, Protocol: proto,
				Headers: cfg.OTLP.Headers, Agg: x.agg, Counters: health(x.spans, tr), Log: log})
		}
		if err != nil {
			x.closeOTLP(log)
			return nil, fmt.Errorf("OTLP export of metrics: %w", err)
		}
		if every := x.otlpMetrics.Interval(); cfg.Metrics.TTL < 2*every {
			log.WithFields(logrus.Fields{"metrics.ttl": cfg.Metrics.TTL, "OTEL_METRIC_EXPORT_INTERVAL": every}).
				Warn("metrics.ttl is less than two export intervals: a series may expire before it is exported")
		}
		log.WithFields(logrus.Fields{"endpoint": otlpEndpoint(cfg.OTLP.Endpoint, config.SignalMetrics), "protocol": proto,
			"interval": x.otlpMetrics.Interval()}).Info("exporting metrics over OTLP")
	}
	if cfg.Metrics.Listen == "" {
		return x, nil
	}
	x.metrics, err = metrics.Listen(cfg.Metrics.Listen, metrics.NewCollector(x.agg, x.prometheusHealth(tr)), log)
	if err != nil {
		x.closeOTLP(log)
		return nil, err
	}
	log.WithField("address", x.metrics.Addr()).Info("serving Prometheus metrics at /metrics")
	return x, nil
}

// otlpEndpoint is where signal goes, for the log: configured, else the
// variables'.
func otlpEndpoint(configured, signal string) string {
	for _, v := range []string{configured, os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_ENDPOINT"), os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")} {
		if v != "" {
			return v
		}
	}
	return ""
}

// observers are the export's sinks that see every exchange before the
// filter and redaction (the aggregation), if any.
func (x *export) observers() []output.Sink {
	if x.agg == nil {
		return nil
	}
	return []output.Sink{x.agg}
}

// sinks are the export's sinks that see what is written, filtered and
// redacted (the spans: a span carries the query and the user agent).
func (x *export) sinks() []output.Sink {
	if x.spans == nil {
		return nil
	}
	return []output.Sink{x.spans}
}

// closeOTLP exports the spans still waiting and the last metrics (within
// otlpCloseTimeout, the two at once) and stops the export over OTLP; its
// counts stay readable.
func (x *export) closeOTLP(log logrus.FieldLogger) {
	if x.closed {
		return
	}
	x.closed = true
	var wg sync.WaitGroup
	if x.spans != nil {
		wg.Go(func() {
			if err := x.spans.Close(otlpCloseTimeout); err != nil {
				log.WithError(err).Debug("closing the OTLP export of spans")
			}
		})
	}
	if x.otlpMetrics != nil {
		wg.Go(func() {
			if err := x.otlpMetrics.Close(otlpCloseTimeout); err != nil {
				log.WithError(err).Debug("closing the OTLP export of metrics")
			}
		})
	}
	wg.Wait()
}

// otlpStats are the export's counts over OTLP (zero for what is off).
func (x *export) otlpStats() (otlp.Stats, otlp.MetricStats) {
	var sp otlp.Stats
	var ms otlp.MetricStats
	if x.spans != nil {
		sp = x.spans.Stats()
	}
	if x.otlpMetrics != nil {
		ms = x.otlpMetrics.Stats()
	}
	return sp, ms
}

// stop stops serving.
func (x *export) stop(log logrus.FieldLogger) {
	if x.metrics != nil {
		if err := x.metrics.Close(); err != nil {
			log.WithError(err).Debug("closing the metrics endpoint")
		}
		x.metrics = nil
	}
}

// health is httptrace's own counts beside the aggregation's, live: the
// span export's (spans may be nil) and the programs' (the kernel's own
// misses are in the closing summary).
func health(spans *otlp.Exporter, tr *tracer.Tracer) func() []aggregate.Counter {
	return func() []aggregate.Counter {
		var out []aggregate.Counter
		if spans != nil {
			sp := spans.Stats()
			out = append(out, aggregate.Counter{Name: "export_spans", Help: "Spans the OTLP backend took.", Value: sp.Exported},
				aggregate.Counter{Name: "export_dropped", Help: "Spans dropped: the OTLP export's queue was full, or the backend refused them.", Value: sp.Dropped})
		}
		if bpf, err := tr.BPFStats(); err == nil {
			out = append(out, aggregate.Counter{Name: "events_lost", Help: "Kernel records dropped: the ring buffer was full.", Value: bpf[event.StatRecordsDropped]})
		}
		return out
	}
}

// prometheusHealth is health and the OTLP metrics export's counts, for
// the Prometheus endpoint (started after the export).
func (x *export) prometheusHealth(tr *tracer.Tracer) func() []aggregate.Counter {
	h := health(x.spans, tr)
	m := x.otlpMetrics
	return func() []aggregate.Counter {
		out := h()
		if m != nil {
			st := m.Stats()
			out = append(out, aggregate.Counter{Name: "export_metrics", Help: otlp.MetricExportsHelp, Value: st.Exports},
				aggregate.Counter{Name: "export_metrics_failed", Help: otlp.MetricFailuresHelp, Value: st.Failed})
		}
		return out
	}
}

// serviceNamer names an exchange's service: all is the name of every
// exchange (OTEL_SERVICE_NAME); else the first configured service whose
// command name is the process's, or whose port served the exchange; else
// the process's command name.
func serviceNamer(services []config.Service, all string) func(e *record.Exchange) string {
	if all != "" {
		return func(*record.Exchange) string { return all }
	}
	byComm := map[string]string{}
	byPort := map[int]string{}
	for _, s := range services {
		if s.Comm != "" {
			if _, ok := byComm[s.Comm]; !ok {
				byComm[s.Comm] = s.Name
			}
		} else if _, ok := byPort[s.Port]; !ok {
			byPort[s.Port] = s.Name
		}
	}
	return func(e *record.Exchange) string {
		if name, ok := byComm[e.Comm]; ok {
			return name
		}
		if len(byPort) > 0 && e.Side == record.Server {
			if _, port, err := net.SplitHostPort(e.Server); err == nil {
				if n, err := strconv.Atoi(port); err == nil {
					if name, ok := byPort[n]; ok {
						return name
					}
				}
			}
		}
		return e.Comm
	}
}
