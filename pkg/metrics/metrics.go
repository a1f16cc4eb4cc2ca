// Package metrics serves the aggregation (package aggregate) to
// Prometheus: OpenTelemetry's HTTP metric names in their Prometheus form,
// and httptrace's own health counters, at /metrics.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// Labels of the HTTP metrics, in order.
var Labels = []string{"http_request_method", "http_response_status_code", "http_route", "url_scheme",
	"server_address", "server_port", "network_protocol_version", "service_name"}

// ErrorLabels follow Labels on the series of exchanges that failed
// (error.type, aggregate.Key.ErrorType): other series carry none.
var ErrorLabels = []string{"error_type"}

// GRPCLabels follow Labels (and ErrorLabels) on the series of gRPC calls that carried a
// status (rpc.grpc.status_code): other series carry none.
var GRPCLabels = []string{"rpc_grpc_status_code"}

// ContainerLabels follow Labels on the series of a process in a container
// (container.id, container.name, k8s.pod.uid, k8s.namespace.name,
// k8s.pod.name; a value may be empty): a host process's series carry none.
var ContainerLabels = []string{"container_id", "container_name", "k8s_pod_uid", "k8s_namespace_name", "k8s_pod_name"}

// The HTTP metrics: a duration and two body size histograms for each side.
type family struct {
	duration, requestBody, responseBody *prometheus.Desc
}

func newFamily(side string, labels []string) family {
	return family{
		duration: prometheus.NewDesc("http_"+side+"_request_duration_seconds",
			"Duration of HTTP "+side+" requests, from the request's first byte to the response's last.", labels, nil),
		requestBody: prometheus.NewDesc("http_"+side+"_request_body_size_bytes",
			"Size of HTTP "+side+" request bodies (payload, without chunk framing).", labels, nil),
		responseBody: prometheus.NewDesc("http_"+side+"_response_body_size_bytes",
			"Size of HTTP "+side+" response bodies (payload, without chunk framing).", labels, nil),
	}
}

// Collector is a prometheus.Collector of an aggregation and of health
// counters.
type Collector struct {
	agg    *aggregate.Aggregator
	health func() []aggregate.Counter
	// families[side][in a container][gRPC][failed]: the labels of each
	// are Labels, then ErrorLabels, GRPCLabels and ContainerLabels, as
	// they apply.
	families [2][2][2][2]family

	mu   sync.Mutex         // one scrape at a time reuses snap
	snap []aggregate.Series // the last scrape's copy
}

// NewCollector collects agg's series and counters, and what health
// returns (nil: none), read at each scrape.
func NewCollector(agg *aggregate.Aggregator, health func() []aggregate.Counter) *Collector {
	c := &Collector{agg: agg, health: health}
	for side, name := range [2]string{"server", "client"} {
		for in := range 2 {
			for grpc := range 2 {
				for failed := range 2 {
					labels := slices.Clone(Labels)
					if failed == 1 {
						labels = append(labels, ErrorLabels...)
					}
					if grpc == 1 {
						labels = append(labels, GRPCLabels...)
					}
					if in == 1 {
						labels = append(labels, ContainerLabels...)
					}
					c.families[side][in][grpc][failed] = newFamily(name, labels)
				}
			}
		}
	}
	return c
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Describe sends nothing: the collector is unchecked (its health counters
// are named at each scrape).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every live series and the health counters. The series are
// a copy taken under the aggregation's lock: the metrics are built
// without it, so a scrape stalls the pipeline only for the copying.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap = c.agg.Snapshot(c.snap)
	for i := range c.snap {
		s := &c.snap[i]
		errType := s.ErrorType()
		f := c.families[b2i(s.Side == record.Client)][b2i(s.ContainerID != "")][b2i(s.GRPCStatus != "")][b2i(errType != "")]
		port := ""
		if s.ServerPort != 0 {
			port = strconv.Itoa(s.ServerPort)
		}
		labels := []string{s.Method, strconv.Itoa(s.Status), s.Route, s.Scheme, s.ServerAddress, port, s.Proto, s.Service}
		if errType != "" {
			labels = append(labels, errType)
		}
		if s.GRPCStatus != "" {
			labels = append(labels, s.GRPCStatus)
		}
		if s.ContainerID != "" {
			labels = append(labels, s.ContainerID, s.ContainerName, s.PodUID, s.K8sNamespace, s.K8sPod)
		}
		ch <- histogram(f.duration, &s.Duration, s.Created, labels)
		ch <- histogram(f.requestBody, &s.RequestBody, s.Created, labels)
		ch <- histogram(f.responseBody, &s.ResponseBody, s.Created, labels)
	}
	counters := c.agg.Counters()
	if c.health != nil {
		counters = append(counters, c.health()...)
	}
	for _, k := range counters {
		d := prometheus.NewDesc("httptrace_"+k.Name+"_total", k.Help, nil, nil)
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(k.Value))
	}
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("httptrace_series", "Series held now.", nil, nil),
		prometheus.GaugeValue, float64(c.agg.Stats().Series))
}

// histogram is h as a Prometheus histogram (cumulative bucket counts),
// begun at created; a metric that cannot be made is sent as an invalid
// one, which the scrape reports, never a panic.
func histogram(d *prometheus.Desc, h *aggregate.Histogram, created time.Time, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var sum uint64
	for i, b := range h.Bounds {
		sum += h.Counts[i]
		buckets[b] = sum
	}
	m, err := prometheus.NewConstHistogramWithCreatedTimestamp(d, h.Count, h.Sum, buckets, created, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// Server serves /metrics.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen starts serving c at addr (HOST:PORT) in the background; a
// failure to serve is logged to log.
func Listen(addr string, c *Collector, log logrus.FieldLogger) (*Server, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	s := &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.WithError(err).Warn("metrics endpoint stopped serving")
		}
	}()
	return s, nil
}

// Addr is where it listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving: scrapes under way get two seconds to end, then
// their connections are closed.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}
