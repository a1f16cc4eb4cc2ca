// Package otlp exports each exchange as an OpenTelemetry span over OTLP
// (gRPC or http/protobuf). The spans are written in OTLP's wire form as
// they come (wire.go) and sent in batches with the OpenTelemetry Go SDK's
// OTLP clients (their configuration from the OTEL_EXPORTER_OTLP_
// variables, their retries with backoff); neither the SDK's tracer nor a
// message per span is used: an exchange is a finished span already, and
// building one as a message cost several times as much as its bytes.
// Write never blocks: spans wait in a bounded queue; when the queue is
// full, or when the backend refuses a batch after the retries, its spans
// are dropped and counted, and a warning says so at most once a minute.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

// The protocols served.
const (
	ProtocolGRPC = config.OTLPGRPC
	ProtocolHTTP = config.OTLPHTTP
)

// Defaults of Options.
const (
	// DefaultQueue is half a second of spans at 30,000 exchanges a
	// second: the worker's upload waits for the CPU when the host is busy
	// (the backend's latency is the client's, below). queueBytes bounds
	// the bytes the queue holds too (its chunks' buffers).
	DefaultQueue = 16384
	queueBytes   = 16 << 20
	// chunkSpans and chunkBytes bound a chunk: the spans of one service
	// that Write gathers before they join the queue together (Flush
	// sends them sooner).
	chunkSpans = 64
	chunkBytes = 64 << 10
	// freeChunks is how many sent chunks are kept for reuse (at most
	// freeChunks*2*chunkBytes bytes), enough for two batches when Flush
	// sends a chunk of a few spans each time.
	freeChunks = 64
	// MaxServices caps the services whose resources are kept; a later
	// service's is made again for each batch.
	MaxServices = 64
	// batchMax and batchEvery bound a batch: it is sent when it holds
	// batchMax spans, or batchEvery after its first.
	batchMax   = 512
	batchEvery = time.Second
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
	Queue   int // spans waiting to be exported (DefaultQueue)
	Log     logrus.FieldLogger
	// client replaces the OTLP client (tests).
	client otlptrace.Client
}

// Stats are an Exporter's counts.
type Stats struct {
	Exported uint64 // spans the backend took
	Dropped  uint64 // spans lost: the queue was full, or the backend refused them
}

// Exporter is a sink that exports exchanges as spans.
type Exporter struct {
	opts   Options
	client otlptrace.Client
	queue  queue
	wake   chan struct{} // a batch's worth waits
	stop   chan struct{} // Close ran
	done   chan struct{} // the worker returned
	closed bool          // Close ran: Write, Flush and Close are called from one goroutine

	// Write's: the chunks being filled, by service and in the order
	// their services came; one span's bytes, its route and its name.
	open             map[string]*chunk
	order            []*chunk
	chunkMax         int
	body, route, tmp []byte
	// free are chunks the worker sent, for Write to fill again: their
	// buffers grown already (a sync.Pool loses them at each collection).
	free chan *chunk
	// ctx is the sends'; Close cancels it when its time is up.
	ctx    context.Context
	cancel context.CancelFunc

	// The worker's: the batch it took from the queue.
	resources  *resources
	batch      []*chunk
	batchSpans int

	exported, dropped atomic.Uint64
	warnMu            sync.Mutex
	warnedAt          time.Time
	warnedDropped     uint64 // drops when last warned
	lastErr           error  // the backend's last refusal
}

// New starts an Exporter. Nothing is sent until the first batch: a
// backend that is not there yet is no error.
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
	quietSDK(opts.Log)
	client := opts.client
	if client == nil {
		var err error
		if client, err = otlpClient(opts); err != nil {
			return nil, err
		}
	}
	if err := client.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("starting the OTLP client: %w", err)
	}
	x := &Exporter{opts: opts, client: client, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		open: map[string]*chunk{}, chunkMax: min(chunkSpans, opts.Queue), resources: newResources(opts.Log)}
	x.free = make(chan *chunk, freeChunks)
	x.ctx, x.cancel = context.WithCancel(context.Background())
	go x.run()
	return x, nil
}

// quietSDK sends what the SDK reports to its global error handler (which
// prints on stderr) to log at debug level: the export counts failures.
func quietSDK(log logrus.FieldLogger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.WithError(err).Debug("OTLP export") }))
}

// target is where one signal goes, as the options of its SDK exporter
// take it: url for http/protobuf (the endpoint's base URL and the
// signal's path), the endpoint for gRPC, each "" when the variables say;
// headers are the configured ones over the variables' (nil when none are
// configured: the SDK reads the variables then).
type target struct {
	grpc    bool
	url     string
	headers map[string]string
}

// targetOf is signal's target (config.SignalTraces, SignalMetrics; path
// its http/protobuf path) for endpoint, protocol and configured headers.
func targetOf(endpoint, protocol string, headers map[string]string, signal, path string) (target, error) {
	t := target{grpc: protocol == ProtocolGRPC, url: endpoint}
	if len(headers) > 0 {
		// The option replaces what the variables say: they are merged here.
		t.headers = mergeHeaders(signal, headers)
	}
	if endpoint != "" && !t.grpc {
		var err error
		if t.url, err = signalURL(endpoint, path); err != nil {
			return t, err
		}
	}
	return t, nil
}

// otlpClient is the SDK's OTLP client for opts: the variables configure
// what opts leaves unset.
func otlpClient(opts Options) (otlptrace.Client, error) {
	t, err := targetOf(opts.Endpoint, opts.Protocol, opts.Headers, config.SignalTraces, "/v1/traces")
	if err != nil {
		return nil, err
	}
	if t.grpc {
		var o []otlptracegrpc.Option
		if t.url != "" {
			o = append(o, otlptracegrpc.WithEndpointURL(t.url))
		}
		if t.headers != nil {
			o = append(o, otlptracegrpc.WithHeaders(t.headers))
		}
		return otlptracegrpc.NewClient(o...), nil
	}
	// Protobuf whatever OTEL_EXPORTER_OTLP_PROTOCOL says (http/json is
	// refused unless the configuration chose http/protobuf): the spans
	// are protobuf's bytes already, which JSON would leave out.
	o := []otlptracehttp.Option{otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf)}
	if t.url != "" {
		o = append(o, otlptracehttp.WithEndpointURL(t.url))
	}
	if t.headers != nil {
		o = append(o, otlptracehttp.WithHeaders(t.headers))
	}
	return otlptracehttp.NewClient(o...), nil
}

// signalURL is where a signal goes over http/protobuf: base is the base
// URL, as OTEL_EXPORTER_OTLP_ENDPOINT is, and the signal's path follows it.
func signalURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", base, err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

// mergeHeaders is OTEL_EXPORTER_OTLP_HEADERS, then the signal's
// OTEL_EXPORTER_OTLP_<signal>_HEADERS, then configured, each over the one
// before: key=value pairs separated by commas, the values URL-encoded.
func mergeHeaders(signal string, configured map[string]string) map[string]string {
	out := map[string]string{}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_" + signal + "_HEADERS"} {
		for _, pair := range strings.Split(os.Getenv(v), ",") {
			k, val, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				continue
			}
			if dec, err := url.PathUnescape(strings.TrimSpace(val)); err == nil {
				out[k] = dec
			}
		}
	}
	for k, v := range configured {
		out[k] = v
	}
	return out
}

// Stats are the counts so far.
func (x *Exporter) Stats() Stats {
	return Stats{Exported: x.exported.Load(), Dropped: x.dropped.Load()}
}

// Close sends what waits, within timeout: what it cannot is dropped and
// counted.
func (x *Exporter) Close(timeout time.Duration) error {
	if x.closed {
		return nil
	}
	x.Flush()
	x.closed = true
	close(x.stop)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case <-x.done:
	case <-ctx.Done():
		// The worker is in a send that retries: ending it drops (and
		// counts) that batch and every one after.
		x.cancel()
		<-x.done
	}
	x.cancel()
	err := x.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// send sends the batch, its spans grouped by service, and counts them.
func (x *Exporter) send() {
	if len(x.batch) == 0 {
		return
	}
	n := uint64(x.batchSpans)
	defer func() {
		// The client marshals the request in UploadTraces, and every
		// retry there: the chunks' bytes are free once it returns.
		for _, c := range x.batch {
			x.release(c)
		}
		clear(x.batch)
		x.batch, x.batchSpans = x.batch[:0], 0
	}()
	if err := x.ctx.Err(); err != nil { // Close's time is up
		x.drop(n, err)
		return
	}
	// The client's own timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s) and
	// retries bound it, and Close.
	err := x.client.UploadTraces(x.ctx, x.resources.group(x.batch))
	if err == nil {
		x.exported.Add(n)
		return
	}
	x.opts.Log.WithError(err).Debug("OTLP export")
	if rejected, ok := partialSuccess(err); ok {
		// The backend took the batch but for rejected spans (a
		// partial success, returned as an error).
		rejected = min(rejected, n)
		x.exported.Add(n - rejected)
		if rejected > 0 {
			x.drop(rejected, err)
		}
		return
	}
	x.drop(n, err)
}

// partialRejected is how the SDK's clients word a partial success (the
// metric exporter wraps it): the backend took the request, and says how
// many spans (or metric data points) it rejected.
var partialRejected = regexp.MustCompile(`(?s)OTLP partial success: .*\((\d+) (?:spans|metric data points) rejected\)$`)

// partialSuccess finds a partial success in err (alone or joined with
// others) and the spans it rejected. Its type is internal to the SDK: its
// message is what is known of it.
func partialSuccess(err error) (uint64, bool) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if m := partialRejected.FindStringSubmatch(e.Error()); m != nil {
			n, perr := strconv.ParseUint(m[1], 10, 64)
			if perr == nil && len(errs) == 1 {
				return n, true
			}
		}
	}
	return 0, false
}

// drop counts n spans dropped (err: why the backend refused them, nil
// when the queue was full), and warns at most once every warnEvery, with
// the backend's last error.
func (x *Exporter) drop(n uint64, err error) {
	total := x.dropped.Add(n)
	x.warnMu.Lock()
	defer x.warnMu.Unlock()
	if err != nil {
		x.lastErr = err
	}
	now := time.Now()
	if now.Sub(x.warnedAt) < warnEvery {
		return
	}
	f := logrus.Fields{"export_dropped": total, "since_last_warning": total - x.warnedDropped}
	if x.lastErr != nil {
		f["last_error"] = x.lastErr.Error()
	}
	x.opts.Log.WithFields(f).Warn("OTLP export: spans dropped (the queue was full, or the backend refused them); tracing goes on")
	x.warnedAt, x.warnedDropped = now, total
}
