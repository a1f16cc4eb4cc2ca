# bpf/httptrace.bt is the bpftrace program for configs/httptrace.yaml in
# kprobe mode, written by `httptrace bpftrace`.

BPFTRACE_SCRIPT := bpf/httptrace.bt
BPFTRACE_CONFIG := configs/httptrace.yaml
BPFTRACE_GEN     = bin/httptrace bpftrace -c $(BPFTRACE_CONFIG) --attach kprobe --first

.PHONY: bpftrace check-bpftrace test-bpftrace-diff

# Regenerate the checked-in program.
bpftrace: bin/httptrace
	$(BPFTRACE_GEN) > $(BPFTRACE_SCRIPT).tmp
	mv $(BPFTRACE_SCRIPT).tmp $(BPFTRACE_SCRIPT)

# Fail when the checked-in program differs from a fresh generation.
check-bpftrace: bin/httptrace
	@$(BPFTRACE_GEN) | diff -u $(BPFTRACE_SCRIPT) - \
		|| { echo "$(BPFTRACE_SCRIPT) is out of date: run make bpftrace" >&2; exit 1; }

# The tracepoint program and httptrace trace one real server; their requests
# must match (needs root and bpftrace; skipped, never passed, without root).
test-bpftrace-diff: bin/httptrace
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace go test -count=1 -v ./test/bpftracediff/
