# The kernel matrix: every suite in qemu guests, one boot per Debian kernel, in both attach modes.
# KERNELS, MODES and SUITES (environment or make's command line) pick subsets; see scripts/vm/matrix.sh.

.PHONY: vm-test

# The bpftrace comparison runs in the guests as a test binary too.
bin/bpftracediff.test: $(BPF_OBJ) $(GO_SRC) $(shell find test -name '*.go')
	go test -c -trimpath -tags netgo,osusergo \
		-ldflags '-linkmode external -extldflags "-static"' -o $@ ./test/bpftracediff

vm-test: bin/httptrace-static bin/e2e.test bin/bpftracediff.test
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace-static E2E_BIN=$(CURDIR)/bin/e2e.test \
		BPFTRACEDIFF_BIN=$(CURDIR)/bin/bpftracediff.test bash scripts/vm/matrix.sh
