// Package otlp exports each exchange as an OpenTelemetry span over OTLP
// (gRPC or http/protobuf), with the OpenTelemetry Go SDK. It is a sink:
// Write never blocks. An exchange waits in a bounded queue; when the queue
// is full, or when the backend refuses a batch after the exporter's
// retries, its spans are dropped and counted, and a warning says so at
// most once a minute.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

// The protocols of OTEL_EXPORTER_OTLP_PROTOCOL that are served.
const (
	ProtocolGRPC = config.OTLPGRPC
	ProtocolHTTP = config.OTLPHTTP
)

// Defaults of Options.
const (
	DefaultQueue = 4096
	// MaxServices caps the services (one resource each) spans are kept
	// apart for; the spans of later ones go to the last.
	MaxServices = 64
	// warnEvery is the least time between two warnings of drops.
	warnEvery = time.Minute
)

// Options configure an Exporter.
type Options struct {
	// Endpoint is the OTLP endpoint's base URL, as in
	// OTEL_EXPORTER_OTLP_ENDPOINT: over http/protobuf, spans go to its
	// path followed by /v1/traces ("": the OTEL_EXPORTER_OTLP_ variables
	// say).
	Endpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP (config.OTLP.Proto).
	Protocol string
	// Headers are sent with every export, beside OTEL_EXPORTER_OTLP_HEADERS.
	Headers map[string]string
	Router  *route.Router
	// Service names an exchange's service: its resource's service.name.
	Service func(e *record.Exchange) string
	Clock   output.Clock
	Queue   int // exchanges waiting to be exported (DefaultQueue)
	Log     logrus.FieldLogger
	// exporter replaces the OTLP exporter (tests).
	exporter sdktrace.SpanExporter
}

// Stats are an Exporter's counts.
type Stats struct {
	Exported uint64 // spans the backend took
	Dropped  uint64 // spans lost: the queue was full, or the backend refused them
}

// Exporter is a sink that exports exchanges as spans.
type Exporter struct {
	opts     Options
	exporter *countingExporter
	queue    chan span
	done     chan struct{}

	providers map[string]*sdktrace.TracerProvider // by service; the worker's
	tracers   map[string]trace.Tracer
	last      string // the service spans of later services go to
	started   uint64 // spans handed to the SDK; the worker's until it is done

	closed     bool // Close ran: Write and Close are called from one goroutine
	queueDrops atomic.Uint64
	warnMu     sync.Mutex
	warnedAt   time.Time
	warnedAt0  uint64 // drops when last warned
}

// New starts an Exporter. Nothing is sent until the first span: a backend
// that is not there yet is no error.
func New(opts Options) (*Exporter, error) {
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Service == nil {
		opts.Service = func(e *record.Exchange) string { return e.Comm }
	}
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	// The SDK reports a failed export to a global handler, which would
	// print it on stderr at each retry: it is counted here, and logged at
	// debug level.
	log := opts.Log
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.WithError(err).Debug("OTLP export") }))
	inner := opts.exporter
	if inner == nil {
		var err error
		if inner, err = otlpExporter(opts); err != nil {
			return nil, err
		}
	}
	x := &Exporter{opts: opts, exporter: &countingExporter{SpanExporter: inner}, queue: make(chan span, opts.Queue),
		done: make(chan struct{}), providers: map[string]*sdktrace.TracerProvider{}, tracers: map[string]trace.Tracer{}}
	x.exporter.onDrop = x.warn
	go x.run()
	return x, nil
}

// otlpExporter is the SDK's OTLP exporter for opts: the variables
// configure what opts leaves unset.
func otlpExporter(opts Options) (sdktrace.SpanExporter, error) {
	ctx := context.Background()
	if opts.Protocol == ProtocolGRPC {
		var o []otlptracegrpc.Option
		if opts.Endpoint != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(opts.Endpoint))
		}
		if len(opts.Headers) > 0 {
			o = append(o, otlptracegrpc.WithHeaders(opts.Headers))
		}
		return otlptracegrpc.New(ctx, o...)
	}
	var o []otlptracehttp.Option
	if opts.Endpoint != "" {
		// The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is: the signal's
		// path follows it.
		u, err := url.Parse(opts.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", opts.Endpoint, err)
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		o = append(o, otlptracehttp.WithEndpointURL(u.String()))
	}
	if len(opts.Headers) > 0 {
		o = append(o, otlptracehttp.WithHeaders(opts.Headers))
	}
	return otlptracehttp.New(ctx, o...)
}

// Write implements output.Sink: the exchange's span joins the queue, or
// is dropped and counted when the queue is full.
func (x *Exporter) Write(e *record.Exchange) error {
	if x.closed {
		x.queueDrops.Add(1)
		return nil
	}
	s := x.span(e)
	select {
	case x.queue <- s:
	default:
		x.queueDrops.Add(1)
		x.warn()
	}
	return nil
}

// Flush implements output.Sink: the queue is the exporter's to empty.
func (x *Exporter) Flush() error { return nil }

// Stats are the counts so far.
func (x *Exporter) Stats() Stats {
	return Stats{Exported: x.exporter.exported.Load(), Dropped: x.queueDrops.Load() + x.exporter.dropped.Load()}
}

// Close exports what waits, within timeout; what it cannot is dropped and
// counted.
func (x *Exporter) Close(timeout time.Duration) error {
	x.closed = true
	close(x.queue)
	<-x.done
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, p := range x.providers {
		// The providers share the exporter: its Shutdown is a no-op for
		// them, and comes after them all.
		if err := p.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, x.exporter.SpanExporter.Shutdown(ctx))
	// Spans still in the SDK's queue when the time ran out.
	if left := x.started - x.exporter.exported.Load() - x.exporter.dropped.Load(); left > 0 && left <= x.started {
		x.exporter.dropped.Add(left)
	}
	return errors.Join(errs...)
}

// run starts the spans of the queue, one after the other.
func (x *Exporter) run() {
	defer close(x.done)
	for s := range x.queue {
		x.start(s)
		x.started++
	}
}

// tracer is the tracer of service's resource, made at its first span.
func (x *Exporter) tracer(service string) trace.Tracer {
	if t, ok := x.tracers[service]; ok {
		return t
	}
	if len(x.providers) >= MaxServices {
		return x.tracers[x.last]
	}
	res, err := resource.New(context.Background(), resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(attribute.String("service.name", service)))
	if err != nil {
		x.opts.Log.WithError(err).WithField("service", service).Debug("OTLP resource")
	}
	// Blocking: the SDK's own queue holds a span until it is exported, and
	// a full one holds up the worker, so that the drops are this package's
	// queue's, counted.
	p := sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithBatcher(x.exporter, sdktrace.WithBlocking()), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	x.providers[service] = p
	x.tracers[service] = p.Tracer("httptrace")
	x.last = service
	return x.tracers[service]
}

// warn says that spans were dropped, at most once every warnEvery.
func (x *Exporter) warn() {
	x.warnMu.Lock()
	defer x.warnMu.Unlock()
	now := time.Now()
	if now.Sub(x.warnedAt) < warnEvery {
		return
	}
	st := x.Stats()
	x.opts.Log.WithFields(logrus.Fields{"export_dropped": st.Dropped, "since_last_warning": st.Dropped - x.warnedAt0}).
		Warn("OTLP export: spans dropped (the queue was full, or the backend refused them); tracing goes on")
	x.warnedAt, x.warnedAt0 = now, st.Dropped
}

// countingExporter counts what the backend took and what it refused.
type countingExporter struct {
	sdktrace.SpanExporter
	exported, dropped atomic.Uint64
	onDrop            func()
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		c.dropped.Add(uint64(len(spans)))
		if c.onDrop != nil {
			c.onDrop()
		}
		return err
	}
	c.exported.Add(uint64(len(spans)))
	return nil
}

// Shutdown does nothing: the exporter is shared by every service's
// provider, and Exporter.Close shuts it down after them.
func (c *countingExporter) Shutdown(context.Context) error { return nil }
