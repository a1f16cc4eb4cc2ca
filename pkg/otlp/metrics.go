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
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/record"
)

// DefaultMetricInterval is the time between two exports of the metrics
// when OTEL_METRIC_EXPORT_INTERVAL sets none (the SDK's default).
const DefaultMetricInterval = time.Minute

// DefaultMetricTimeout bounds one export of the metrics when
// OTEL_METRIC_EXPORT_TIMEOUT sets nothing (the SDK's default).
const DefaultMetricTimeout = 30 * time.Second

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
	// Timeout bounds one interval's export (0: OTEL_METRIC_EXPORT_TIMEOUT,
	// in milliseconds, else DefaultMetricTimeout).
	Timeout time.Duration
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
	// Unserved: the backend serves no metrics (HTTP 404, gRPC
	// Unimplemented: one that takes spans only); no more were sent.
	Unserved bool
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

	exports, failed      atomic.Uint64
	lastFailed, unserved atomic.Bool
	closed               bool // Close ran (Close is called from one goroutine)
}

// NewMetrics starts exporting opts.Agg. Nothing is sent until the first
// interval ends: a backend that is not there yet is no error.
func NewMetrics(opts MetricOptions) (*MetricExporter, error) {
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	if opts.Interval <= 0 {
		opts.Interval = millisVar("OTEL_METRIC_EXPORT_INTERVAL", DefaultMetricInterval, opts.Log)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = millisVar("OTEL_METRIC_EXPORT_TIMEOUT", DefaultMetricTimeout, opts.Log)
	}
	if v := os.Getenv("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"); v != "" && !strings.EqualFold(v, "cumulative") {
		opts.Log.WithField("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", v).Warn("metrics are exported cumulative only")
	}
	quietSDK(opts.Log)
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

// Interval is the time between two exports.
func (m *MetricExporter) Interval() time.Duration { return m.opts.Interval }

// millisVar is variable v (milliseconds), else def.
func millisVar(v string, def time.Duration, log logrus.FieldLogger) time.Duration {
	s := os.Getenv(v)
	if s == "" {
		return def
	}
	ms, err := strconv.ParseUint(s, 10, 32)
	if err != nil || ms == 0 {
		log.WithField(v, s).Warnf("not a positive count of milliseconds: %s is used", def)
		return def
	}
	return time.Duration(ms) * time.Millisecond
}

// metricExporter is the SDK's OTLP metric exporter for opts: the variables
// configure what opts leaves unset.
func metricExporter(opts MetricOptions) (sdkmetric.Exporter, error) {
	t, err := targetOf(opts.Endpoint, opts.Protocol, opts.Headers, config.SignalMetrics, "/v1/metrics")
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if t.grpc {
		var o []otlpmetricgrpc.Option
		if t.url != "" {
			o = append(o, otlpmetricgrpc.WithEndpointURL(t.url))
		}
		if t.headers != nil {
			o = append(o, otlpmetricgrpc.WithHeaders(t.headers))
		}
		return otlpmetricgrpc.New(ctx, o...)
	}
	var o []otlpmetrichttp.Option
	if t.url != "" {
		o = append(o, otlpmetrichttp.WithEndpointURL(t.url))
	}
	if t.headers != nil {
		o = append(o, otlpmetrichttp.WithHeaders(t.headers))
	}
	return otlpmetrichttp.New(ctx, o...)
}

// Stats are the counts so far.
func (m *MetricExporter) Stats() MetricStats {
	return MetricStats{Exports: m.exports.Load(), Failed: m.failed.Load(), LastFailed: m.lastFailed.Load(), Unserved: m.unserved.Load()}
}

// Close exports the totals once more and stops, within timeout: an
// export under way that outlasts it is abandoned (and counted failed).
// Only the first call does anything.
func (m *MetricExporter) Close(timeout time.Duration) error {
	if m.closed {
		return nil
	}
	m.closed = true
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
	err := m.exp.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
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

// export sends the metrics as they are now, one request per service,
// within the timeout. The first failure ends it (the next export carries
// the same totals); a backend that serves no metrics ends them all.
func (m *MetricExporter) export(ctx context.Context) {
	if m.unserved.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	var failed error
	for _, rm := range m.build(time.Now()) {
		// The exporter retries within the timeout.
		err := m.exp.Export(ctx, rm)
		if err == nil {
			continue
		}
		if _, partial := partialSuccess(err); partial {
			// Taken, but for some points (a backend's own limits).
			m.opts.Log.WithError(err).Debug("OTLP metrics export")
			continue
		}
		failed = err
		break
	}
	if unserved(failed) {
		m.unserved.Store(true)
		m.opts.Log.WithError(failed).Warn("OTLP export: the backend serves no metrics; they are no longer sent (OTEL_METRICS_EXPORTER=none leaves them out)")
		return
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

// notFound is how the SDK's http/protobuf exporter words a 404.
var notFound = regexp.MustCompile(`failed to send metrics to \S+: 404 `)

// unserved reports whether err says the backend has no metrics service at
// all: HTTP 404 from its OTLP receiver, gRPC Unimplemented.
func unserved(err error) bool {
	return err != nil && (notFound.MatchString(err.Error()) || grpcstatus.Code(err) == codes.Unimplemented)
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

// The help of the export's own counters, as every exporter sends them.
const (
	MetricExportsHelp  = "Exports of the metrics over OTLP the backend took."
	MetricFailuresHelp = "Exports of the metrics over OTLP that failed (the next carries their totals)."
)

// counters are httptrace's own counts: monotonic sums from the export's
// start, and the series held now.
func (m *MetricExporter) counters(now time.Time) []metricdata.Metrics {
	cs := m.opts.Agg.Counters()
	if m.opts.Counters != nil {
		cs = append(cs, m.opts.Counters()...)
	}
	st := m.Stats()
	cs = append(cs, aggregate.Counter{Name: "export_metrics", Help: MetricExportsHelp, Value: st.Exports},
		aggregate.Counter{Name: "export_metrics_failed", Help: MetricFailuresHelp, Value: st.Failed})
	ms := make([]metricdata.Metrics, 0, len(cs)+1)
	for _, c := range cs {
		// A unit in braces is a count of things: no suffix in Prometheus
		// ("1" would make a gauge's name end in _ratio).
		ms = append(ms, metricdata.Metrics{Name: "httptrace." + c.Name, Description: c.Help, Unit: "{count}",
			Data: metricdata.Sum[int64]{IsMonotonic: true, Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.DataPoint[int64]{{StartTime: m.start, Time: now, Value: int64(c.Value)}}}})
	}
	return append(ms, metricdata.Metrics{Name: "httptrace.series", Description: "Series held now.", Unit: "{series}",
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
	kv := make([]attribute.KeyValue, 0, 14)
	str := func(k, v string) {
		if v != "" {
			kv = append(kv, attribute.String(k, v))
		}
	}
	str("http.request.method", s.Method)
	kv = append(kv, attribute.Int("http.response.status_code", s.Status))
	str("http.route", s.Route)
	str("url.scheme", s.Scheme)
	str("server.address", s.ServerAddress)
	if s.ServerPort != 0 {
		kv = append(kv, attribute.Int("server.port", s.ServerPort))
	}
	str("network.protocol.version", s.Proto)
	str("error.type", s.ErrorType())
	if code, err := strconv.Atoi(s.GRPCStatus); err == nil {
		kv = append(kv, attribute.Int("rpc.grpc.status_code", code))
	}
	str("container.id", s.ContainerID)
	str("container.name", s.ContainerName)
	str("k8s.pod.uid", s.PodUID)
	if s.K8sPod != "" {
		str("k8s.namespace.name", s.K8sNamespace)
		str("k8s.pod.name", s.K8sPod)
		str("k8s.container.name", s.ContainerName)
	}
	return attribute.NewSet(kv...)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
