package runner

import (
	"fmt"
	"net"
	"os"
	"strconv"
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
	// spansClosed: closeSpans ran.
	spansClosed bool
}

// spansCloseTimeout bounds the time spans still waiting may take to be
// exported at the end.
const spansCloseTimeout = 5 * time.Second

// startExport starts what cfg asks for: with metrics.listen, the
// aggregation and the Prometheus endpoint; with an OTLP endpoint, the
// export of spans; with view (the live view), the aggregation. Their
// sinks join the pipeline's.
func startExport(cfg config.Config, tr *tracer.Tracer, clock output.Clock, view bool, log logrus.FieldLogger) (*export, error) {
	x := &export{}
	spans := cfg.OTLP.On()
	if cfg.Metrics.Listen == "" && !spans && !view {
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
		proto, err := cfg.OTLP.Proto()
		if err != nil {
			return nil, err
		}
		x.spans, err = otlp.New(otlp.Options{Endpoint: cfg.OTLP.Endpoint, Protocol: proto, Headers: cfg.OTLP.Headers,
			Router: router, Service: service, Clock: clock, Log: log})
		if err != nil {
			return nil, fmt.Errorf("OTLP export: %w", err)
		}
		log.WithFields(logrus.Fields{"endpoint": otlpEndpoint(cfg.OTLP.Endpoint), "protocol": proto}).Info("exporting spans over OTLP")
	}
	if cfg.Metrics.Listen == "" && !view {
		return x, nil
	}
	x.agg = aggregate.New(aggregate.Options{Router: router, MaxRoutes: cfg.Routes.MaxPerService,
		TTL: cfg.Metrics.TTL, Service: service})
	if cfg.Metrics.Listen == "" {
		return x, nil
	}
	x.metrics, err = metrics.Listen(cfg.Metrics.Listen, metrics.NewCollector(x.agg, health(x.agg, x.spans, tr)), log)
	if err != nil {
		x.closeSpans(log)
		return nil, err
	}
	log.WithField("address", x.metrics.Addr()).Info("serving Prometheus metrics at /metrics")
	return x, nil
}

// otlpEndpoint is where spans go, for the log: configured, else the
// variables'.
func otlpEndpoint(configured string) string {
	for _, v := range []string{configured, os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")} {
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

// closeSpans exports the spans still waiting (within spansCloseTimeout)
// and stops the export of spans; its counts stay readable.
func (x *export) closeSpans(log logrus.FieldLogger) {
	if x.spans == nil || x.spansClosed {
		return
	}
	x.spansClosed = true
	if err := x.spans.Close(spansCloseTimeout); err != nil {
		log.WithError(err).Debug("closing the OTLP export")
	}
}

// spanStats are the export of spans' counts (zero when there is none).
func (x *export) spanStats() otlp.Stats {
	if x.spans == nil {
		return otlp.Stats{}
	}
	return x.spans.Stats()
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

// health is httptrace's own counts, live: the aggregation's and the
// programs' (the kernel's own misses are in the closing summary).
func health(agg *aggregate.Aggregator, spans *otlp.Exporter, tr *tracer.Tracer) func() []metrics.Counter {
	return func() []metrics.Counter {
		st := agg.Stats()
		out := []metrics.Counter{
			{Name: "exchanges", Help: "Exchanges aggregated (before the filter).", Value: st.Exchanges},
			{Name: "incomplete", Help: "Requests with no response (not in the histograms).", Value: st.Incomplete},
			{Name: "unmatched", Help: "Responses with no request (not in the histograms).", Value: st.Unmatched},
			{Name: "gaps", Help: "Exchanges with bytes never seen.", Value: st.Gaps},
		}
		if spans != nil {
			sp := spans.Stats()
			out = append(out, metrics.Counter{Name: "export_spans", Help: "Spans the OTLP backend took.", Value: sp.Exported},
				metrics.Counter{Name: "export_dropped", Help: "Spans dropped: the OTLP export's queue was full, or the backend refused them.", Value: sp.Dropped})
		}
		if bpf, err := tr.BPFStats(); err == nil {
			out = append(out, metrics.Counter{Name: "events_lost", Help: "Kernel records dropped: the ring buffer was full.", Value: bpf[event.StatRecordsDropped]})
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
