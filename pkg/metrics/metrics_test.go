package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// The endpoint serves each side's histograms under OpenTelemetry's
// Prometheus names and labels, and the health counters.
func TestEndpoint(t *testing.T) {
	agg := aggregate.New(aggregate.Options{})
	for i, status := range []int{200, 200, 503} {
		agg.Write(&record.Exchange{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/users/" + string(rune('1'+i)), Proto: "HTTP/1.1",
			Status: status, Server: "127.0.0.1:8080", RequestStartNs: 1, ResponseEndNs: 2_000_001, ResponseBodyBytes: 5})
	}
	agg.Write(&record.Exchange{Comm: "curl", Side: record.Client, Method: "POST", Path: "/api", Proto: "HTTP/1.1",
		Status: 201, Server: "10.1.2.3:443", TLS: true, Headers: []record.Header{{Name: "Host", Value: "api.example.com"}},
		RequestStartNs: 1, ResponseEndNs: 30_000_001, RequestBodyBytes: 2000})
	// A path a client sent that is not UTF-8: a label value must be.
	agg.Write(&record.Exchange{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/caf\xe9", Proto: "HTTP/1.1",
		Status: 200, Server: "127.0.0.1:8080", Headers: []record.Header{{Name: "Host", Value: "\xff"}}, RequestStartNs: 1, ResponseEndNs: 2})
	// A process in a container: its series add the container's labels,
	// in the same metric family as the host's.
	agg.Write(&record.Exchange{Comm: "goserver", Side: record.Server, Method: "GET", Path: "/users/7", Proto: "HTTP/1.1",
		Status: 200, Server: "127.0.0.1:9090", RequestStartNs: 1, ResponseEndNs: 2, ContainerID: "3f1d8a6e2b9c", ContainerName: "web"})
	// A pod's container: the pod's namespace and name too.
	agg.Write(&record.Exchange{Comm: "goserver", Side: record.Server, Method: "GET", Path: "/", Proto: "HTTP/1.1",
		Status: 200, Server: "127.0.0.1:9091", RequestStartNs: 1, ResponseEndNs: 2, ContainerID: "9a8b7c6d5e4f", ContainerName: "server",
		K8sNamespace: "shop", K8sPod: "web-0"})
	// gRPC calls over HTTP/2: the status code is a label of their own
	// series; the server is the :authority. UNAVAILABLE (14) is the
	// server's failure, NOT_FOUND (5) is not.
	for _, code := range []int{0, 5, 5, 14} {
		agg.Write(&record.Exchange{Comm: "grpcsrv", Side: record.Server, Method: "POST", Path: "/pkg.S/Get", Proto: "HTTP/2", Authority: "api:50051",
			Status: 200, Server: "127.0.0.1:50051", RequestStartNs: 1, ResponseEndNs: 2, GRPCService: "pkg.S", GRPCMethod: "Get",
			GRPCStatus: code, GRPCStatusSet: true})
	}
	srv, err := Listen("127.0.0.1:0", NewCollector(agg, func() []aggregate.Counter { return []aggregate.Counter{{Name: "events_lost", Help: "lost", Value: 7}} }), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics: %s", resp.Status)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/users/{id}",network_protocol_version="1.1",server_address="127.0.0.1",server_port="8080",service_name="nginx",url_scheme="http"} 2`,
		`http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/users/{id}",network_protocol_version="1.1",server_address="127.0.0.1",server_port="8080",service_name="nginx",url_scheme="http",le="0.005"} 2`,
		`http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/users/{id}",network_protocol_version="1.1",server_address="127.0.0.1",server_port="8080",service_name="nginx",url_scheme="http",le="+Inf"} 2`,
		`http_client_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="201",http_route="/api",network_protocol_version="1.1",server_address="api.example.com",server_port="443",service_name="curl",url_scheme="https",le="0.05"} 1`,
		`http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/caf�",network_protocol_version="1.1",server_address="�",server_port="80",service_name="nginx",url_scheme="http"} 1`,
		`http_server_request_duration_seconds_count{error_type="503",http_request_method="GET",http_response_status_code="503",http_route="/users/{id}",network_protocol_version="1.1",server_address="127.0.0.1",server_port="8080",service_name="nginx",url_scheme="http"} 1`,
		`http_server_response_body_size_bytes_sum{http_request_method="GET",http_response_status_code="200",http_route="/users/{id}",network_protocol_version="1.1",server_address="127.0.0.1",server_port="8080",service_name="nginx",url_scheme="http"} 10`,
		`http_client_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="201",http_route="/api",network_protocol_version="1.1",server_address="api.example.com",server_port="443",service_name="curl",url_scheme="https",le="0.025"} 0`,
		`http_client_request_body_size_bytes_sum{http_request_method="POST",http_response_status_code="201",http_route="/api",network_protocol_version="1.1",server_address="api.example.com",server_port="443",service_name="curl",url_scheme="https"} 2000`,
		`http_server_request_duration_seconds_count{container_id="3f1d8a6e2b9c",container_name="web",http_request_method="GET",http_response_status_code="200",http_route="/users/{id}",k8s_namespace_name="",k8s_pod_name="",k8s_pod_uid="",network_protocol_version="1.1",server_address="127.0.0.1",server_port="9090",service_name="goserver",url_scheme="http"} 1`,
		`http_server_request_duration_seconds_count{container_id="9a8b7c6d5e4f",container_name="server",http_request_method="GET",http_response_status_code="200",http_route="/",k8s_namespace_name="shop",k8s_pod_name="web-0",k8s_pod_uid="",network_protocol_version="1.1",server_address="127.0.0.1",server_port="9091",service_name="goserver",url_scheme="http"} 1`,
		`http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/pkg.S/Get",network_protocol_version="2",rpc_grpc_status_code="5",server_address="api",server_port="50051",service_name="grpcsrv",url_scheme="http"} 2`,
		`http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/pkg.S/Get",network_protocol_version="2",rpc_grpc_status_code="0",server_address="api",server_port="50051",service_name="grpcsrv",url_scheme="http"} 1`,
		`http_server_request_duration_seconds_count{error_type="UNAVAILABLE",http_request_method="POST",http_response_status_code="200",http_route="/pkg.S/Get",network_protocol_version="2",rpc_grpc_status_code="14",server_address="api",server_port="50051",service_name="grpcsrv",url_scheme="http"} 1`,
		"httptrace_events_lost_total 7",
		"httptrace_route_overflow_total 0",
		"httptrace_series 9",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no line %s in:\n%s", want, text)
		}
	}
}

func TestListenError(t *testing.T) {
	if _, err := Listen("256.0.0.1:1", NewCollector(aggregate.New(aggregate.Options{}), nil), quiet()); err == nil || !strings.Contains(err.Error(), "256.0.0.1:1") {
		t.Errorf("Listen on a bad address: %v, want an error naming it", err)
	}
}

func quiet() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
