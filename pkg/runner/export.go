package runner

import (
	"net"
	"os"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/metrics"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// export is the aggregation and the exporters that read it.
type export struct {
	agg     *aggregate.Aggregator
	metrics *metrics.Server
}

// startExport starts what cfg asks for: with metrics.listen, the
// aggregation and the Prometheus endpoint. Its sinks join the pipeline's.
func startExport(cfg config.Config, tr *tracer.Tracer, log logrus.FieldLogger) (*export, error) {
	x := &export{}
	if cfg.Metrics.Listen == "" {
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
	x.agg = aggregate.New(aggregate.Options{Router: router, MaxRoutes: cfg.Routes.MaxPerService,
		TTL: cfg.Metrics.TTL, Service: serviceNamer(cfg.Services, all)})
	x.metrics, err = metrics.Listen(cfg.Metrics.Listen, metrics.NewCollector(x.agg, health(x.agg, tr)), log)
	if err != nil {
		return nil, err
	}
	log.WithField("address", x.metrics.Addr()).Info("serving Prometheus metrics at /metrics")
	return x, nil
}

// sinks are the export's sinks (the aggregation), if any.
func (x *export) sinks() []output.Sink {
	if x.agg == nil {
		return nil
	}
	return []output.Sink{x.agg}
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
func health(agg *aggregate.Aggregator, tr *tracer.Tracer) func() []metrics.Counter {
	return func() []metrics.Counter {
		st := agg.Stats()
		out := []metrics.Counter{
			{Name: "exchanges", Help: "Exchanges aggregated (before the filter).", Value: st.Exchanges},
			{Name: "incomplete", Help: "Requests with no response (not in the histograms).", Value: st.Incomplete},
			{Name: "unmatched", Help: "Responses with no request (not in the histograms).", Value: st.Unmatched},
			{Name: "gaps", Help: "Exchanges with bytes never seen.", Value: st.Gaps},
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
