// The OTLP setup's backend: a local Jaeger (bin/jaeger, the build make
// test-otlp uses), which takes the spans into its in-memory store and the
// metrics into a Prometheus exporter, as a team's collector would. Its own
// telemetry counts the spans its OTLP receiver accepted and refused.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/httptrace/httptrace/test/jaegerconf"
)

// jaeger is a running Jaeger and its ports.
type jaeger struct {
	proc      *child
	otlp      string // OTLP over http/protobuf, host:port
	telemetry string // its own metrics, host:port
}

// startJaeger runs bin with its files in dir and waits until its receiver
// and telemetry answer.
func startJaeger(bin, dir string) (*jaeger, error) {
	addrs, err := freeAddrs(6) // OTLP over HTTP and gRPC, telemetry, query HTTP and gRPC, metrics exporter
	if err != nil {
		return nil, err
	}
	j := &jaeger{otlp: addrs[0], telemetry: addrs[2]}
	// Each span here is a trace of its own: 10,000 are kept.
	text, err := jaegerconf.Config(jaegerconf.Addrs{OTLPHTTP: j.otlp, OTLPGRPC: addrs[1], Telemetry: j.telemetry,
		QueryHTTP: addrs[3], QueryGRPC: addrs[4], Metrics: addrs[5], MaxTraces: 10000})
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	p, err := startChild(filepath.Join(dir, "jaeger.out"), filepath.Join(dir, "jaeger.err"), bin, "--config", conf)
	if err != nil {
		return nil, err
	}
	j.proc = p
	track(p) // an interrupt ends it
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, _, terr := j.spans()
		c, cerr := net.DialTimeout("tcp", j.otlp, time.Second)
		if cerr == nil {
			c.Close()
		}
		if terr == nil && cerr == nil {
			return j, nil
		}
		if p.exited() || time.Now().After(deadline) {
			p.stop(syscall.SIGKILL, 5*time.Second)
			return nil, fmt.Errorf("jaeger not answering at %s and %s: %v %v: %s", j.otlp, j.telemetry, terr, cerr, p.tail())
		}
	}
}

// endpoint is the base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it.
func (j *jaeger) endpoint() string { return "http://" + j.otlp }

// spans are the spans Jaeger's OTLP receiver accepted and refused so far.
func (j *jaeger) spans() (accepted, refused int64, err error) {
	resp, err := http.Get("http://" + j.telemetry + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("jaeger telemetry: %s", resp.Status)
	}
	return receiverSpans(bufio.NewScanner(resp.Body))
}

// receiverSpans sums the collector's otelcol_receiver_accepted_spans and
// _refused_spans samples (one per receiver and transport) in Prometheus's
// text format.
func receiverSpans(sc *bufio.Scanner) (accepted, refused int64, err error) {
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "otelcol_receiver_accepted_spans"):
			dst = &accepted
		case strings.HasPrefix(line, "otelcol_receiver_refused_spans"):
			dst = &refused
		default:
			continue
		}
		// name{labels} value [timestamp]
		rest := line
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			rest = rest[i:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, 0, fmt.Errorf("jaeger telemetry %q: no value", line)
		}
		v, perr := strconv.ParseFloat(f[0], 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("jaeger telemetry %q: %w", line, perr)
		}
		*dst += int64(v)
	}
	return accepted, refused, sc.Err()
}

// stop reads what Jaeger took, then stops it: spans it refused are an
// error.
func (j *jaeger) stop() (int64, error) {
	accepted, refused, err := j.spans()
	serr := j.proc.stop(syscall.SIGTERM, 10*time.Second)
	if err == nil && refused > 0 {
		err = fmt.Errorf("jaeger refused %d spans", refused)
	}
	return accepted, errors.Join(err, serr)
}
