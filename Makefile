# httptrace build, test and demo. `make help` lists the targets.

.DELETE_ON_ERROR:
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

# Architectures: the kernel's name (vmlinux/, __TARGET_ARCH_) kept apart from Go's.
GOARCH     ?= $(shell go env GOARCH 2>/dev/null || echo amd64)
LINUX_ARCH ?= $(if $(filter arm64,$(GOARCH)),arm64,x86)

CLANG  ?= clang
BPFTOOL ?= bpftool
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

BPF_SRC  := bpf/httptrace.bpf.c
# Two builds of one source: the second (_legacy, chosen where the kernel has
# no bpf_loop, upstream before Linux 5.17) walks a transfer's iovecs in a
# bounded loop instead of with bpf_loop.
BPF_OBJ  := pkg/bpfobj/httptrace.bpf.o pkg/bpfobj/httptrace_legacy.bpf.o
VMLINUX  := vmlinux/$(LINUX_ARCH)/vmlinux.h
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(LINUX_ARCH) -Wall -Werror \
	-I vmlinux/$(LINUX_ARCH) -I bpf -MMD -MP

# cgo is needed for libbpfgo; pkg/libbpf links the static libbpf.
export CGO_ENABLED := 1
GO_LDFLAGS := -X main.version=$(VERSION)
GO_SRC := $(shell find cmd pkg -name '*.go' 2>/dev/null) go.mod go.sum

.PHONY: all build static deps vmlinux bpf test test-tiers test-unit test-e2e test-host vm-test \
	bpftrace check-bpftrace vagrant-validate demo clean help

all: build

help:
	@echo "make            build bin/httptrace (BPF object embedded)"
	@echo "make static     build bin/httptrace-static, fully statically linked"
	@echo "make demo       install what is missing, trace a real Go server, show requests"
	@echo "make test       install what is missing and run every test (unit, e2e, bpftrace, kernel matrix)"
	@echo "make test-host  unit and end-to-end tests on the running kernel (ATTACH=tracepoint|kprobe|auto)"
	@echo "make test-otlp  spans over OTLP to a real Jaeger (built into bin/jaeger from test/jaeger)"
	@echo "make test-cli   bad input, lifecycle and clean-up of the built binary"
	@echo "make test-hostile  hostile and broken traffic against traced servers"
	@echo "make image      build localhost/httptrace:<version> (FROM scratch, podman)"
	@echo "make test-deploy   deploy/kubernetes against doctor; the image under the DaemonSet's security context"
	@echo "make bench      side-by-side benchmark (nginx, Go; untraced, floor, bpftrace, httptrace)"
	@echo "make fuzz       every Go fuzz target for FUZZTIME (60s) each"
	@echo "make soak       about a million requests against a prefork server; writes docs/SOAK.md"
	@echo "make vm-test    the kernel matrix under qemu (KERNELS=\"5.10 6.1 6.12\" MODES=... SUITES=...)"
	@echo "make bpftrace   regenerate bpf/httptrace.bt from configs/httptrace.yaml"
	@echo "make vmlinux    regenerate $(VMLINUX) from this kernel's BTF"

deps:
	@bash scripts/deps.sh

build: bin/httptrace
bpf: $(BPF_OBJ)

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

pkg/bpfobj/httptrace_legacy.bpf.o: BPF_DEFS := -DHTTPTRACE_LEGACY
$(BPF_OBJ): $(BPF_SRC) $(VMLINUX)
	$(CLANG) $(BPF_CFLAGS) $(BPF_DEFS) -MF $(@:.o=.d) -c $< -o $@

-include $(BPF_OBJ:.o=.d)

bin/httptrace: $(BPF_OBJ) $(GO_SRC)
	go build -trimpath -ldflags '$(GO_LDFLAGS)' -o $@ ./cmd/httptrace

static: bin/httptrace-static
bin/httptrace-static: $(BPF_OBJ) $(GO_SRC)
	go build -trimpath -tags netgo,osusergo \
		-ldflags '$(GO_LDFLAGS) -linkmode external -extldflags "-static"' -o $@ ./cmd/httptrace
	@file $@ | grep -q 'statically linked' || { echo "$@ is not statically linked" >&2; exit 1; }

# The end-to-end tests also run, as one static binary, inside the matrix guests.
bin/e2e.test: $(BPF_OBJ) $(GO_SRC) $(shell find test -name '*.go')
	go test -c -trimpath -tags netgo,osusergo \
		-ldflags '-linkmode external -extldflags "-static"' -o $@ ./test/e2e

# Tests. `make test` is what CI runs: it installs what is missing first.
ATTACH ?= tracepoint

# Every tier in order: pure Go and object tests, fuzz targets briefly, the
# real tool against real servers and bad input on this kernel, the bpftrace
# twin, the kernel matrix under qemu; then, with Jaeger, the OTLP export and
# the benchmark's smoke run (whose OTLP setup exports to Jaeger).
# Jaeger is built beside the install and the tiers, niced: its compile
# takes minutes of CPU they leave idle.
test:
	$(MAKE) -j2 bin/jaeger test-tiers
	$(MAKE) -j1 test-otlp bench-smoke
	@echo "make test: all passed"

test-tiers: deps
	$(MAKE) -j1 test-unit fuzz-smoke test-e2e-servers test-e2e-all test-cli test-deploy test-hostile \
		check-bpftrace test-bpftrace-diff vm-test vm-tracer-test vagrant-validate

test-host: deps
	$(MAKE) test-unit test-e2e

test-unit: $(BPF_OBJ)
	go vet ./...
	go test -count=1 ./pkg/... ./cmd/...

test-e2e: bin/httptrace
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace HTTPTRACE_ATTACH=$(ATTACH) go test -count=1 -v ./test/e2e/

# vagrant validate needs no VM provider with -p (--ignore-provider).
vagrant-validate:
	vagrant validate -p

clean:
	rm -rf bin $(BPF_OBJ) $(BPF_OBJ:.o=.d)

# Targets kept in their own files (bpftrace script, kernel matrix, ...).
-include mk/*.mk

demo: deps bin/httptrace
	@bash scripts/demo.sh
