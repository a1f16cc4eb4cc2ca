package harness

import (
	"context"
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

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// serveH2C is the Go net/http server speaking HTTP/2 without TLS (h2c,
// prior knowledge), as net/http's own Protocols setting serves it.
func serveH2C(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	pid := strconv.Itoa(os.Getpid())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server-Pid", pid)
		n, _ := io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Path, "/status/404/") {
			http.Error(w, "not found", 404)
			return
		}
		fmt.Fprintf(w, "ok %s %s %d\n", r.URL.Path, r.Proto, n)
	})
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetUnencryptedHTTP2(true)
	fmt.Printf("listening %s\n", ln.Addr())
	return srv.Serve(ln)
}

// serveGRPC is a grpc-go server with its health service: Check answers
// SERVING for "" and "up", NOT_FOUND for an unknown service; Watch streams.
func serveGRPC(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	fmt.Printf("listening %s\n", ln.Addr())
	return s.Serve(ln)
}

// StartH2CServer runs this test binary as the Go h2c server.
func StartH2CServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, selfServe(t, "h2c"))
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
// "up" that it ends after the first answer (the stream is cancelled).
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
	calls = append(calls, GRPCCall{Service: "grpc.health.v1.Health", Method: "Watch", Code: codes.Canceled, Metadata: id})
	return calls
}

func metadataCtx(id string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), IDHeader, id)
}

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
