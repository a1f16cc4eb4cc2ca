// The export of the aggregation (package aggregate) over OTLP: the HTTP
// metrics under their OpenTelemetry names (http.server.request.duration
// and the body sizes, and the client's), cumulative from each series'
// start, and httptrace's own counters, every interval and once more when
// the export closes. They are built as the SDK's metric data from the
// aggregation's copy and sent with the SDK's OTLP metric exporters; the
// SDK's meter is not used: the aggregation is the one every exporter
// reads. A failed export loses nothing (the next one carries the same
// totals); failures are counted, and a warning says so at most once a
// minute.
package otlp

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/record"
)

// DefaultMetricInterval is the time between two exports of the metrics
// when OTEL_METRIC_EXPORT_INTERVAL sets none (the SDK's default).
const DefaultMetricInterval = time.Minute

// SelfService is the service.name of httptrace's own counters.
const SelfService = "httptrace"

// MetricOptions configure a MetricExporter.
type MetricOptions struct {
	// Endpoint is the OTLP endpoint's base URL, as in
	// OTEL_EXPORTER_OTLP_ENDPOINT: over http/protobuf, metrics go to its
	// path followed by /v1/metrics ("": the OTEL_EXPORTER_OTLP_ variables
	// say).
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP (config.OTLP.Proto).
	Protocol string
	// Headers are sent with every export, beside OTEL_EXPORTER_OTLP_HEADERS.
	Headers map[string]string
	// Interval is the time between two exports (0:
	// OTEL_METRIC_EXPORT_INTERVAL, in milliseconds, else
	// DefaultMetricInterval).
	Interval time.Duration
	// Agg is the aggregation exported.
	Agg *aggregate.Aggregator
	// Counters are httptrace's counts beside the aggregation's (nil: none).
	Counters func() []aggregate.Counter
	Log      logrus.FieldLogger
	// exporter replaces the SDK's OTLP exporter (tests).
	exporter sdkmetric.Exporter
}

// MetricStats are a MetricExporter's counts.
type MetricStats struct {
	Exports uint64 // exports the backend took
	Failed  uint64 // exports that failed: the next one carries their totals
	// LastFailed: the last export failed (at Close, the backend lacks
	// the totals since the one before).
	LastFailed bool
}

// MetricExporter exports an aggregation's metrics over OTLP.
type MetricExporter struct {
	opts  MetricOptions
	exp   sdkmetric.Exporter
	start time.Time // the counters' start
	stop  chan struct{}
	done  chan struct{}
	// ctx is the exports'; Close cancels it when its time is up.
	ctx    context.Context
	cancel context.CancelFunc

	// The exporting goroutine's (the worker's, then Close's).
	snap     []aggregate.Series
	res      map[string]*resource.Resource
	warnedAt time.Time

	exports, failed atomic.Uint64
	lastFailed      atomic.Bool
}

// NewMetrics starts exporting opts.Agg. Nothing is sent until the first
// interval ends: a backend that is not there yet is no error.
func NewMetrics(opts MetricOptions) (*MetricExporter, error) {
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	if opts.Interval <= 0 {
		opts.Interval = metricInterval(opts.Log)
	}
	exp := opts.exporter
	if exp == nil {
		var err error
		if exp, err = metricExporter(opts); err != nil {
			return nil, err
		}
	}
	m := &MetricExporter{opts: opts, exp: exp, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
		res: map[string]*resource.Resource{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	go m.run()
	return m, nil
}

// metricInterval is OTEL_METRIC_EXPORT_INTERVAL (milliseconds), else
// DefaultMetricInterval.
func metricInterval(log logrus.FieldLogger) time.Duration {
	v := os.Getenv("OTEL_METRIC_EXPORT_INTERVAL")
	if v == "" {
		return DefaultMetricInterval
	}
	ms, err := strconv.ParseUint(v, 10, 32)
	if err != nil || ms == 0 {
		log.WithField("OTEL_METRIC_EXPORT_INTERVAL", v).Warnf("not a positive count of milliseconds: metrics are exported every %s", DefaultMetricInterval)
		return DefaultMetricInterval
	}
	return time.Duration(ms) * time.Millisecond
}

// metricExporter is the SDK's OTLP metric exporter for opts: the variables
// configure what opts leaves unset.
func metricExporter(opts MetricOptions) (sdkmetric.Exporter, error) {
	headers := opts.Headers
	if len(headers) > 0 {
		headers = mergeHeaders(config.SignalMetrics, headers)
	}
	ctx := context.Background()
	if opts.Protocol == ProtocolGRPC {
		var o []otlpmetricgrpc.Option
		if opts.Endpoint != "" {
			o = append(o, otlpmetricgrpc.WithEndpointURL(opts.Endpoint))
		}
		if len(headers) > 0 {
			o = append(o, otlpmetricgrpc.WithHeaders(headers))
		}
		return otlpmetricgrpc.New(ctx, o...)
	}
	var o []otlpmetrichttp.Option
	if opts.Endpoint != "" {
		u, err := signalURL(opts.Endpoint, "/v1/metrics")
		if err != nil {
			return nil, err
		}
		o = append(o, otlpmetrichttp.WithEndpointURL(u))
	}
	if len(headers) > 0 {
		o = append(o, otlpmetrichttp.WithHeaders(headers))
	}
	return otlpmetrichttp.New(ctx, o...)
}

// Stats are the counts so far.
func (m *MetricExporter) Stats() MetricStats {
	return MetricStats{Exports: m.exports.Load(), Failed: m.failed.Load(), LastFailed: m.lastFailed.Load()}
}

// Close exports the totals once more and stops, within timeout: an
// export under way that outlasts it is abandoned (and counted failed).
func (m *MetricExporter) Close(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	close(m.stop)
	select {
	case <-m.done:
	case <-ctx.Done():
		m.cancel()
		<-m.done
	}
	defer m.cancel()
	m.export(ctx)
	return m.exp.Shutdown(ctx)
}

// run exports every interval until Close.
func (m *MetricExporter) run() {
	defer close(m.done)
	tick := time.NewTicker(m.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			m.export(m.ctx)
		case <-m.stop:
			return
		}
	}
}

// export sends the metrics as they are now, one request per service.
func (m *MetricExporter) export(ctx context.Context) {
	var failed error
	for _, rm := range m.build(time.Now()) {
		// The exporter's own timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s)
		// and retries bound it, and Close.
		if err := m.exp.Export(ctx, rm); err != nil {
			failed = err
		}
	}
	m.lastFailed.Store(failed != nil)
	if failed == nil {
		m.exports.Add(1)
		return
	}
	n := m.failed.Add(1)
	m.opts.Log.WithError(failed).Debug("OTLP metrics export")
	if now := time.Now(); now.Sub(m.warnedAt) >= warnEvery {
		m.warnedAt = now
		m.opts.Log.WithFields(logrus.Fields{"export_metrics_failed": n, "last_error": failed.Error()}).
			Warn("OTLP export: metrics not sent (the next export carries the same totals); tracing goes on")
	}
}

// The HTTP metrics of each side, in the order build sends them.
var httpMetrics = [2][3]struct{ name, desc, unit string }{
	{{"http.server.request.duration", "Duration of HTTP server requests, from the request's first byte to the response's last.", "s"},
		{"http.server.request.body.size", "Size of HTTP server request bodies (payload, without chunk framing).", "By"},
		{"http.server.response.body.size", "Size of HTTP server response bodies (payload, without chunk framing).", "By"}},
	{{"http.client.request.duration", "Duration of HTTP client requests, from the request's first byte to the response's last.", "s"},
		{"http.client.request.body.size", "Size of HTTP client request bodies (payload, without chunk framing).", "By"},
		{"http.client.response.body.size", "Size of HTTP client response bodies (payload, without chunk framing).", "By"}},
}

// build is the metrics at now: one ResourceMetrics per service, in the
// order of their names, then httptrace's own (service.name SelfService).
func (m *MetricExporter) build(now time.Time) []*metricdata.ResourceMetrics {
	m.snap = m.opts.Agg.Snapshot(m.snap)
	by := map[string]*[2][3][]metricdata.HistogramDataPoint[float64]{}
	var services []string
	for i := range m.snap {
		s := &m.snap[i]
		pts := by[s.Service]
		if pts == nil {
			pts = new([2][3][]metricdata.HistogramDataPoint[float64])
			by[s.Service] = pts
			services = append(services, s.Service)
		}
		side := b2i(s.Side == record.Client)
		attrs := seriesAttributes(s)
		for k, h := range [3]*aggregate.Histogram{&s.Duration, &s.RequestBody, &s.ResponseBody} {
			pts[side][k] = append(pts[side][k], metricdata.HistogramDataPoint[float64]{Attributes: attrs,
				StartTime: s.Created, Time: now, Count: h.Count, Bounds: h.Bounds, BucketCounts: h.Counts, Sum: h.Sum})
		}
	}
	slices.Sort(services)
	out := make([]*metricdata.ResourceMetrics, 0, len(services)+1)
	for _, svc := range services {
		var ms []metricdata.Metrics
		for side, pts := range by[svc] {
			for k, p := range pts {
				if len(p) > 0 {
					d := httpMetrics[side][k]
					ms = append(ms, metricdata.Metrics{Name: d.name, Description: d.desc, Unit: d.unit,
						Data: metricdata.Histogram[float64]{DataPoints: p, Temporality: metricdata.CumulativeTemporality}})
				}
			}
		}
		out = append(out, m.resourceMetrics(svc, ms))
	}
	return append(out, m.resourceMetrics(SelfService, m.counters(now)))
}

// counters are httptrace's own counts: monotonic sums from the export's
// start, and the series held now.
func (m *MetricExporter) counters(now time.Time) []metricdata.Metrics {
	cs := m.opts.Agg.Counters()
	if m.opts.Counters != nil {
		cs = append(cs, m.opts.Counters()...)
	}
	ms := make([]metricdata.Metrics, 0, len(cs)+1)
	for _, c := range cs {
		ms = append(ms, metricdata.Metrics{Name: "httptrace." + c.Name, Description: c.Help, Unit: "1",
			Data: metricdata.Sum[int64]{IsMonotonic: true, Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.DataPoint[int64]{{StartTime: m.start, Time: now, Value: int64(c.Value)}}}})
	}
	return append(ms, metricdata.Metrics{Name: "httptrace.series", Description: "Series held now.", Unit: "1",
		Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Time: now, Value: int64(m.opts.Agg.Stats().Series)}}}})
}

// resourceMetrics puts ms under service's resource.
func (m *MetricExporter) resourceMetrics(service string, ms []metricdata.Metrics) *metricdata.ResourceMetrics {
	return &metricdata.ResourceMetrics{Resource: m.resource(service),
		ScopeMetrics: []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: scopeName}, Metrics: ms}}}
}

// resource is service's resource, as the spans' (newResource); the first
// MaxServices are kept.
func (m *MetricExporter) resource(service string) *resource.Resource {
	if r, ok := m.res[service]; ok {
		return r
	}
	r := newResource(service, m.opts.Log)
	if len(m.res) < MaxServices {
		m.res[service] = r
	}
	return r
}

// seriesAttributes are a series' attributes, named as the HTTP semantic
// conventions name them (the Prometheus endpoint's labels, dotted).
func seriesAttributes(s *aggregate.Series) attribute.Set {
	kv := make([]attribute.KeyValue, 0, 11)
	kv = append(kv, attribute.String("http.request.method", s.Method), attribute.Int("http.response.status_code", s.Status),
		attribute.String("http.route", s.Route), attribute.String("url.scheme", s.Scheme),
		attribute.String("server.address", s.ServerAddress), attribute.String("network.protocol.version", s.Proto))
	if s.ServerPort != 0 {
		kv = append(kv, attribute.Int("server.port", s.ServerPort))
	}
	if code, err := strconv.Atoi(s.GRPCStatus); err == nil {
		kv = append(kv, attribute.Int("rpc.grpc.status_code", code))
	}
	if s.ContainerID != "" {
		kv = append(kv, attribute.String("container.id", s.ContainerID), attribute.String("container.name", s.ContainerName),
			attribute.String("k8s.pod.uid", s.PodUID))
	}
	return attribute.NewSet(kv...)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
