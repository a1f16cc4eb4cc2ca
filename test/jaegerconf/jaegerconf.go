// Package jaegerconf is the configuration of the Jaeger (v2, all in one)
// that the tests and the benchmark run: OTLP in over gRPC and
// http/protobuf, spans into its in-memory store, metrics into the
// OpenTelemetry Collector's Prometheus exporter (resource attributes as
// labels), and, when asked, its own telemetry for Prometheus.
package jaegerconf

import (
	"fmt"
	"net"
)

// Addrs are where Jaeger serves, each host:port.
type Addrs struct {
	OTLPGRPC, OTLPHTTP   string // its OTLP receivers
	QueryHTTP, QueryGRPC string // its query API
	Metrics              string // the metrics it received, for Prometheus
	// Telemetry serves its own metrics (its receivers' counts of spans
	// accepted and refused); "": none.
	Telemetry string
	// MaxTraces bounds the traces kept in memory.
	MaxTraces int
}

// Config is Jaeger's YAML configuration for a.
func Config(a Addrs) (string, error) {
	telemetry := "      level: none\n"
	if a.Telemetry != "" {
		host, port, err := net.SplitHostPort(a.Telemetry)
		if err != nil {
			return "", fmt.Errorf("telemetry address %q: %w", a.Telemetry, err)
		}
		telemetry = fmt.Sprintf("      level: basic\n      readers:\n        - pull:\n            exporter:\n"+
			"              prometheus:\n                host: %q\n                port: %s\n", host, port)
	}
	return fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
  telemetry:
    metrics:
%s    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %q
    grpc:
      endpoint: %q
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: %d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %q
      http:
        endpoint: %q
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
  prometheus:
    endpoint: %q
    resource_to_telemetry_conversion:
      enabled: true
`, telemetry, a.QueryHTTP, a.QueryGRPC, a.MaxTraces, a.OTLPGRPC, a.OTLPHTTP, a.Metrics), nil
}
