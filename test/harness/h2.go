package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ServeH2CUpgrade runs the Go net/http server with x/net's h2c handler:
// HTTP/1.1, and HTTP/2 without TLS reached by the HTTP/1.1 Upgrade: h2c
// request (RFC 7540 §3.2) or by prior knowledge.
func ServeH2CUpgrade(addr string) error {
	return serveHTTP(addr, &http.Server{Handler: h2c.NewHandler(h2Handler(), &http2.Server{})})
}

// ServeH2C runs the Go net/http server speaking HTTP/2 without TLS (h2c,
// prior knowledge), as net/http's own Protocols setting serves it, and
// HTTP/1.1; it prints "listening ADDR" once it accepts connections.
func ServeH2C(addr string) error {
	srv := &http.Server{Handler: h2Handler(), Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.Protocols.SetHTTP1(true)
	return serveHTTP(addr, srv)
}

// serveHTTP listens on addr, says "listening ADDR" and serves srv.
func serveHTTP(addr string, srv *http.Server) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	return srv.Serve(ln)
}

// h2Handler answers "ok PATH PROTO BODYBYTES"; /status/404/… with 404;
// /trailers/ID with TrailerBodyBytes of body and an X-Checksum trailer.
func h2Handler() http.Handler {
	pid := strconv.Itoa(os.Getpid())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server-Pid", pid)
		n, _ := io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Path, "/trailers/") {
			w.Header().Set("Trailer", "X-Checksum")
			w.Write([]byte(strings.Repeat("t", TrailerBodyBytes)))
			w.Header().Set("X-Checksum", "sum-"+r.URL.Path[len("/trailers/"):])
			return
		}
		if strings.HasPrefix(r.URL.Path, "/status/404/") {
			http.Error(w, "not found", 404)
			return
		}
		fmt.Fprintf(w, "ok %s %s %d\n", r.URL.Path, r.Proto, n)
	})
}

// ServeGRPC is a grpc-go server with its health service: Check answers
// SERVING for "" and "up", NOT_FOUND for an unknown service; Watch streams.
func ServeGRPC(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
	s.RegisterService(&echoService, nil)
	hs := health.NewServer()
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	fmt.Printf("listening %s\n", ln.Addr())
	return s.Serve(ln)
}

// rawCodec passes messages as the bytes they are ([]byte), under the
// name of the default codec (content-type application/grpc); the health
// service's messages are protobuf and marshal themselves as before.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	if b, ok := v.(*[]byte); ok {
		*b = append((*b)[:0], data...)
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}

func (rawCodec) Name() string { return "proto" }

// EchoRepeatBytes is how many bytes test.Echo/Repeat answers with: grpc-go
// writes its HEADERS, DATA and trailers in one call, the trailers past one
// copy's default 1 KiB.
const EchoRepeatBytes = 3000

// echoService is test.Echo: the unary Repeat answering EchoRepeatBytes
// bytes, and the three streaming kinds (grpc_streams.go).
var echoService = grpc.ServiceDesc{
	ServiceName: "test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Repeat", Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var in []byte
		if err := dec(&in); err != nil {
			return nil, err
		}
		out := []byte(strings.Repeat("e", EchoRepeatBytes))
		return &out, nil
	}}},
	Streams: echoStreams,
}

// GRPCClient is grpc-go's client on one connection.
type GRPCClient struct{ cc *grpc.ClientConn }

// NewGRPCClient connects to addr without TLS.
func NewGRPCClient(t testing.TB, addr string) *GRPCClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return &GRPCClient{cc: cc}
}

// Repeat calls test.Echo/Repeat with the id header and returns the bytes
// it got.
func (c *GRPCClient) Repeat(t testing.TB, id string) int {
	t.Helper()
	in, out := []byte("x"), []byte(nil)
	if err := c.cc.Invoke(metadataCtx(id), "/test.Echo/Repeat", &in, &out, grpc.ForceCodec(rawCodec{})); err != nil {
		t.Fatalf("test.Echo/Repeat: %v", err)
	}
	return len(out)
}

// Health checks the health service's "" (SERVING) with the id header.
func (c *GRPCClient) Health(t testing.TB, id string) {
	t.Helper()
	if _, err := healthpb.NewHealthClient(c.cc).Check(metadataCtx(id), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

// Close closes the connection.
func (c *GRPCClient) Close() { c.cc.Close() }

// StartH2CServer runs this test binary as the Go h2c server.
func StartH2CServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, selfServe(t, "h2c"))
}

// StartH2CUpgradeServer runs this test binary as the Go server that takes
// the upgrade to h2c.
func StartH2CUpgradeServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, selfServe(t, "h2c-upgrade"))
}

// StartGRPCServer runs this test binary as the grpc-go health server.
func StartGRPCServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, selfServe(t, "grpc"))
}

// GRPCCall is one call a gRPC client made and what it got.
type GRPCCall struct {
	Service, Method string // Method is the path's last part: Check, Watch
	Code            codes.Code
	Metadata        string // the value of the id header it sent
}

// GRPCHealth calls the health service at addr over one connection: a Check
// per name in checks (an unknown name answers NOT_FOUND), then a Watch of
// "up" that it ends after the first answer (the stream is cancelled), then
// a Check of "".
func GRPCHealth(t testing.TB, addr, prefix string, checks ...string) []GRPCCall {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := healthpb.NewHealthClient(cc)
	var calls []GRPCCall
	for _, name := range checks {
		id := NewID(prefix)
		ctx := metadataCtx(id)
		_, err := c.Check(ctx, &healthpb.HealthCheckRequest{Service: name})
		calls = append(calls, GRPCCall{Service: "grpc.health.v1.Health", Method: "Check", Code: status.Code(err), Metadata: id})
	}
	id := NewID(prefix)
	ctx, cancel := context.WithCancel(metadataCtx(id))
	w, err := c.Watch(ctx, &healthpb.HealthCheckRequest{Service: "up"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	cancel()
	// Recv until the cancel shows: its failing Recv ends the stream in
	// this goroutine, which queues the RST_STREAM before anything this
	// goroutine sends next; left to grpc-go's own goroutine watching the
	// context, it is queued whenever that goroutine runs.
	for {
		if _, err := w.Recv(); err != nil {
			break
		}
	}
	calls = append(calls, GRPCCall{Service: "grpc.health.v1.Health", Method: "Watch", Code: codes.Canceled, Metadata: id})
	// One more Check on the connection: its HEADERS follow the Watch's
	// RST_STREAM, so the reset is on the wire before the connection
	// closes.
	id = NewID(prefix)
	_, err = c.Check(metadataCtx(id), &healthpb.HealthCheckRequest{})
	return append(calls, GRPCCall{Service: "grpc.health.v1.Health", Method: "Check", Code: status.Code(err), Metadata: id})
}

func metadataCtx(id string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), IDHeader, id)
}

// TrailerBodyBytes is the body of the h2c server's /trailers/ answers.
const TrailerBodyBytes = 3000

// H2CClient is Go's client over HTTP/2 without TLS, one connection.
type H2CClient struct {
	tr *http.Transport
	c  *http.Client
}

// NewH2CClient returns a client that sends every request over one HTTP/2
// connection (prior knowledge).
func NewH2CClient() *H2CClient {
	tr := &http.Transport{Protocols: new(http.Protocols), MaxConnsPerHost: 1}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &H2CClient{tr: tr, c: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// Get sends a GET and returns what came back, trailers included.
func (c *H2CClient) Get(t testing.TB, url string) (Answer, http.Header) {
	t.Helper()
	return c.GetWith(t, url, nil)
}

// GetWith sends a GET with the header fields h added.
func (c *H2CClient) GetWith(t testing.TB, url string, h http.Header) (Answer, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("%s answered over %s", url, resp.Proto)
	}
	return Answer{Status: resp.StatusCode}, resp.Trailer
}

// NewH2TLSClient returns a client that sends every request over one
// HTTP/2 connection over TLS (ALPN h2), trusting any certificate.
func NewH2TLSClient() *H2CClient {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true, MaxConnsPerHost: 1}
	return &H2CClient{tr: tr, c: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// Close closes the client's connection.
func (c *H2CClient) Close() { c.tr.CloseIdleConnections() }

// H2CConcurrent sends n GETs at once with Go's client over one HTTP/2
// connection without TLS (prior knowledge): concurrent streams.
func H2CConcurrent(t testing.TB, addr, prefix string, n int) []Sent {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols), MaxConnsPerHost: 1}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	sent := make([]Sent, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range sent {
		id := NewID(prefix)
		path := "/ok/" + id
		sent[i] = Sent{ID: id, Method: "GET", Path: path, Proto: "HTTP/2", Server: addr}
		wg.Add(1)
		go func(s *Sent) {
			defer wg.Done()
			resp, err := c.Get("http://" + addr + s.Path)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				errs <- fmt.Errorf("%s answered over %s", s.Path, resp.Proto)
			}
			s.Answer = Answer{Status: resp.StatusCode}
		}(&sent[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return sent
}
