# The kernel matrix: every suite in qemu guests, one boot per Debian kernel, in both attach modes.
# KERNELS, MODES, SUITES and JOBS (environment or make's command line) pick subsets and
# parallelism; see scripts/vm/matrix.sh.

.PHONY: vm-test

# Kernel lines, also what vm-tracer-test (mk/kernel.mk) boots.
KERNELS ?= 5.10 6.1 6.12
# Kernels booted at once: all three. The guests wait more than they
# compute: with nine suites, two at once on 2 cores took 904 s for the
# whole matrix where one at a time took 1377 s, and three 681 s with the
# cores saturated; with the tls suite two at once took 1445 s.
JOBS ?= 3

# The bpftrace comparison runs in the guests as a test binary too.
bin/bpftracediff.test: $(BPF_OBJ) $(GO_SRC) $(shell find test -name '*.go')
	go test -c -trimpath -tags netgo,osusergo \
		-ldflags '-linkmode external -extldflags "-static"' -o $@ ./test/bpftracediff

# The syscall-path server of the syscalls suite, where the tree builds one (mk/e2e.mk).
VM_SYSCALLSERVER := $(if $(wildcard mk/e2e.mk),bin/syscallserver)
# The stripped Go server of the tls suite, where the tree builds one.
VM_GOSERVER_STRIPPED := $(if $(wildcard test/servers/goserver),bin/goserver-stripped)

vm-test: bin/httptrace-static bin/e2e.test bin/bpftracediff.test $(VM_SYSCALLSERVER) $(VM_GOSERVER_STRIPPED)
	KERNELS="$(KERNELS)" JOBS="$(JOBS)" HTTPTRACE_BIN=$(CURDIR)/bin/httptrace-static E2E_BIN=$(CURDIR)/bin/e2e.test \
		BPFTRACEDIFF_BIN=$(CURDIR)/bin/bpftracediff.test \
		$(if $(VM_SYSCALLSERVER),SYSCALLSERVER_BIN=$(CURDIR)/$(VM_SYSCALLSERVER)) \
		$(if $(VM_GOSERVER_STRIPPED),GOSERVER_STRIPPED_BIN=$(CURDIR)/$(VM_GOSERVER_STRIPPED)) \
		bash scripts/vm/matrix.sh
