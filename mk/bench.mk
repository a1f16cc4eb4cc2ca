# make bench: httptrace's overhead against nginx and the Go test server under
# wrk, side by side with no tracer, an idle tracer and bpftrace (scripts/bench).
# HTTPTRACE_BIN=/path/to/httptrace measures another build instead of bin/httptrace.
# BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_SERVERS (nginx,go,nginx-tls,go-tls,go-h2c,grpc),
# BENCH_RATE (requests/s of the fixed-rate runs, default 5000, 0 for none),
# BENCH_FLOOR (httptrace|bpftrace) and BENCH_OUT (default bench/RESULTS.md) tune it.

BENCH_TOOL := $(or $(HTTPTRACE_BIN),$(CURDIR)/bin/httptrace)
# bin/httptrace is built only when it is the binary measured.
BENCH_TOOL_DEP := $(if $(HTTPTRACE_BIN),,bin/httptrace)

.PHONY: bench bench-smoke bench-unit

bin/bench: $(wildcard scripts/bench/*.go) go.mod
	go build -trimpath -o $@ ./scripts/bench

bin/goserver: $(wildcard test/servers/goserver/*.go test/harness/*.go) go.mod
	go build -trimpath -o $@ ./test/servers/goserver

bench-unit:
	go test -count=1 ./scripts/bench/

# The httptrace-otlp setup exports to a local Jaeger (bin/jaeger, mk/otlp.mk).
bench: deps
	$(MAKE) bench-unit bin/bench bin/goserver bin/jaeger $(BENCH_TOOL_DEP)
	HTTPTRACE_BIN=$(BENCH_TOOL) BENCH_GOSERVER=$(CURDIR)/bin/goserver BENCH_JAEGER=$(CURDIR)/bin/jaeger bin/bench

# One tiny round: fails when a setup cannot run or its output does not parse,
# never on numbers. make test runs it.
bench-smoke: deps
	$(MAKE) bench-unit bin/bench bin/goserver bin/jaeger $(BENCH_TOOL_DEP)
	BENCH_SMOKE=1 HTTPTRACE_BIN=$(BENCH_TOOL) BENCH_GOSERVER=$(CURDIR)/bin/goserver BENCH_JAEGER=$(CURDIR)/bin/jaeger bin/bench

