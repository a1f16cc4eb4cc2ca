package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/httptrace/httptrace/pkg/route"
)

// Metrics configures the Prometheus endpoint and the aggregation behind it.
type Metrics struct {
	// Listen is HOST:PORT where /metrics is served ("": not served).
	Listen string
	// TTL drops series not updated for this long.
	TTL time.Duration
}

// Routes configures how paths become routes (package route).
type Routes struct {
	// Patterns are templates tried in order: /users/{id}, /static/*.
	Patterns []string
	// MaxPerService caps the distinct routes of one service.
	MaxPerService int
}

// OTLP configures the export over OTLP: spans, and the metrics of the
// aggregation.
type OTLP struct {
	// Endpoint is the collector's base URL, e.g. http://127.0.0.1:4318, as
	// OTEL_EXPORTER_OTLP_ENDPOINT is (http/protobuf appends /v1/traces and
	// /v1/metrics) ("": the variables', else no export).
	Endpoint string
	// Protocol is grpc or http/protobuf ("": OTEL_EXPORTER_OTLP_PROTOCOL
	// or the signal's variable, else http/protobuf).
	Protocol string
	// Headers are sent with each export (API keys), beside
	// OTEL_EXPORTER_OTLP_HEADERS.
	Headers map[string]string
}

// The signals exported over OTLP, as the variables name them
// (OTEL_EXPORTER_OTLP_<signal>_ENDPOINT).
const (
	SignalTraces  = "TRACES"
	SignalMetrics = "METRICS"
)

// On says whether signal (SignalTraces, SignalMetrics) is exported over
// OTLP: an endpoint is set, here or in OTEL_EXPORTER_OTLP_ENDPOINT or the
// signal's OTEL_EXPORTER_OTLP_<signal>_ENDPOINT; OTEL_SDK_DISABLED is not
// true; and OTEL_<signal>_EXPORTER is unset or lists otlp (a comma list:
// none, prometheus or console alone turn OTLP off).
func (o OTLP) On(signal string) bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || !otlpListed(os.Getenv("OTEL_"+signal+"_EXPORTER")) {
		return false
	}
	return o.Endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// otlpListed reports whether an OTEL_<signal>_EXPORTER value v asks for
// OTLP: unset, or otlp among its exporters.
func otlpListed(v string) bool {
	if strings.TrimSpace(v) == "" {
		return true
	}
	for _, e := range strings.Split(v, ",") {
		if strings.TrimSpace(e) == "otlp" {
			return true
		}
	}
	return false
}

// Proto is the protocol signal is sent with: Protocol, else
// OTEL_EXPORTER_OTLP_<signal>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
// else OTLPHTTP. An error names a variable's protocol that is not served.
func (o OTLP) Proto(signal string) (string, error) {
	if o.Protocol != "" {
		return o.Protocol, nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		switch p := os.Getenv(v); p {
		case "":
			continue
		case OTLPGRPC, OTLPHTTP:
			return p, nil
		default:
			return "", fmt.Errorf("%s: %q is not served (want %s or %s)", v, p, OTLPGRPC, OTLPHTTP)
		}
	}
	return OTLPHTTP, nil
}

// Service names the service of exchanges: those of processes with a
// command name, or those a server port served.
type Service struct {
	Name string
	Comm string
	Port int
}

// Defaults of the export settings.
const (
	DefaultMetricsTTL          = 5 * time.Minute
	DefaultMaxRoutesPerService = 200
	MinMetricsTTL              = 30 * time.Second
	// The OTLP protocols served.
	OTLPGRPC = "grpc"
	OTLPHTTP = "http/protobuf"
)

func (d *decoder) metrics(n *yaml.Node) error {
	return d.mapping(n, "metrics", func(k string, kn, v *yaml.Node) error {
		var err error
		switch k {
		case "listen":
			d.cfg.Metrics.Listen, err = d.str(v, "metrics.listen")
		case "ttl":
			d.cfg.Metrics.TTL, err = d.duration(v, "metrics.ttl")
		default:
			return d.fail(kn, "metrics."+k, "unknown key (want listen or ttl)")
		}
		return err
	})
}

func (d *decoder) otlp(n *yaml.Node) error {
	return d.mapping(n, "otlp", func(k string, kn, v *yaml.Node) error {
		var err error
		switch k {
		case "endpoint":
			d.cfg.OTLP.Endpoint, err = d.str(v, "otlp.endpoint")
		case "protocol":
			d.cfg.OTLP.Protocol, err = d.str(v, "otlp.protocol")
		case "headers":
			d.cfg.OTLP.Headers = map[string]string{}
			err = d.mapping(v, "otlp.headers", func(name string, _, hv *yaml.Node) error {
				val, err := d.str(hv, "otlp.headers."+name)
				d.cfg.OTLP.Headers[name] = val
				return err
			})
		default:
			return d.fail(kn, "otlp."+k, "unknown key (want endpoint, protocol or headers)")
		}
		return err
	})
}

func (d *decoder) routes(n *yaml.Node) error {
	return d.mapping(n, "routes", func(k string, kn, v *yaml.Node) error {
		switch k {
		case "patterns":
			return d.each(v, "routes.patterns", func(item *yaml.Node, s string) error {
				if _, err := route.Parse(s); err != nil {
					return d.fail(item, "routes.patterns", "%v", err)
				}
				d.cfg.Routes.Patterns = append(d.cfg.Routes.Patterns, s)
				return nil
			})
		case "max_per_service":
			var err error
			d.cfg.Routes.MaxPerService, err = d.int(v, "routes.max_per_service")
			return err
		}
		return d.fail(kn, "routes."+k, "unknown key (want patterns or max_per_service)")
	})
}

func (d *decoder) services(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return d.fail(n, "services", "want a list of {name, and comm or port}, got %s", kindName(n))
	}
	for _, item := range n.Content {
		var s Service
		err := d.mapping(item, "services", func(k string, kn, v *yaml.Node) error {
			var err error
			switch k {
			case "name":
				s.Name, err = d.str(v, "services.name")
			case "comm":
				s.Comm, err = d.str(v, "services.comm")
			case "port":
				s.Port, err = d.int(v, "services.port")
			default:
				return d.fail(kn, "services."+k, "unknown key (want name, comm or port)")
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case s.Name == "":
			return d.fail(item, "services", "a service without a name")
		case (s.Comm == "") == (s.Port == 0):
			return d.fail(item, "services", "service %q: give one of comm or port", s.Name)
		case s.Port < 0 || s.Port > 65535:
			return d.fail(item, "services", "service %q: %d is not a TCP port", s.Name, s.Port)
		case len(s.Comm) > CommLen:
			return d.fail(item, "services", "service %q: comm %q is longer than the %d bytes the kernel keeps of a command name", s.Name, s.Comm, CommLen)
		}
		for _, o := range d.cfg.Services {
			if (s.Comm != "" && o.Comm == s.Comm) || (s.Port != 0 && o.Port == s.Port) {
				return d.fail(item, "services", "service %q: %s is %s already", s.Name, s.selector(), o.Name)
			}
		}
		d.cfg.Services = append(d.cfg.Services, s)
	}
	return nil
}

// validateExport checks the export settings (the flags' too).
func (c *Config) validateExport() error {
	if c.Metrics.Listen != "" {
		host, port, err := net.SplitHostPort(c.Metrics.Listen)
		if err != nil || strings.ContainsAny(host, " /") {
			return c.errorf("metrics.listen", "%q is not HOST:PORT (e.g. 127.0.0.1:9464 or :9464)", c.Metrics.Listen)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return c.errorf("metrics.listen", "%q: %q is not a TCP port", c.Metrics.Listen, port)
		}
	}
	if c.Metrics.TTL < MinMetricsTTL {
		return c.errorf("metrics.ttl", "%s is too short (want %s or more: a series must outlive the time between two scrapes)", c.Metrics.TTL, MinMetricsTTL)
	}
	if e := c.OTLP.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c.errorf("otlp.endpoint", "%q is not an http:// or https:// URL (e.g. http://127.0.0.1:4318)", e)
		}
	}
	switch c.OTLP.Protocol {
	case "", OTLPGRPC, OTLPHTTP:
	default:
		return c.errorf("otlp.protocol", "%q: want %s or %s", c.OTLP.Protocol, OTLPGRPC, OTLPHTTP)
	}
	for _, signal := range []string{SignalTraces, SignalMetrics} {
		if c.OTLP.On(signal) {
			if _, err := c.OTLP.Proto(signal); err != nil {
				return err
			}
		}
	}
	if c.Routes.MaxPerService < 1 {
		return c.errorf("routes.max_per_service", "%d: want 1 or more", c.Routes.MaxPerService)
	}
	for _, p := range c.Routes.Patterns {
		if _, err := route.Parse(p); err != nil {
			return c.errorf("routes.patterns", "%v", err)
		}
	}
	return nil
}

// selector is what s selects, for messages.
func (s Service) selector() string {
	if s.Comm != "" {
		return "comm " + s.Comm
	}
	return fmt.Sprintf("port %d", s.Port)
}

// String names a service selector for messages.
func (s Service) String() string {
	if s.Comm != "" {
		return fmt.Sprintf("%s (comm %s)", s.Name, s.Comm)
	}
	return fmt.Sprintf("%s (port %d)", s.Name, s.Port)
}
