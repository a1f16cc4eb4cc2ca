# End-to-end test servers: the static syscall-path server, and the servers'
# own tests (no BPF, no root: they check the servers before httptrace is
# judged against them).

.PHONY: syscallserver goserver-stripped test-e2e-servers test-e2e-all

# Static (CGO_ENABLED=0): the kernel matrix runs it in busybox-only guests.
syscallserver: bin/syscallserver
bin/syscallserver: $(shell find test/servers -name '*.go') go.mod go.sum
	CGO_ENABLED=0 go build -trimpath -o $@ ./test/servers/syscallserver
	@file $@ | grep -q 'statically linked' || { echo "$@ is not statically linked" >&2; exit 1; }

# The Go test server with no symbol table and no DWARF (-s -w), as Go
# programs are shipped: its crypto/tls is found through .gopclntab.
goserver-stripped: bin/goserver-stripped
bin/goserver-stripped: $(shell find test/servers test/harness -name '*.go') go.mod go.sum
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o $@ ./test/servers/goserver

test-e2e-servers:
	go test -count=1 ./test/servers/...

# Every suite, with every server program required (a missing one fails);
# the OTLP suites are test-otlp's (mk/otlp.mk): they need Jaeger built.
test-e2e-all: bin/httptrace bin/syscallserver bin/goserver-stripped test-e2e-servers
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace HTTPTRACE_ATTACH=$(ATTACH) HTTPTRACE_E2E_REQUIRE_ALL=1 \
		HTTPTRACE_SYSCALLSERVER=$(CURDIR)/bin/syscallserver \
		HTTPTRACE_GOSERVER_STRIPPED=$(CURDIR)/bin/goserver-stripped go test -count=1 -v -skip '^TestOTLP' ./test/e2e/
