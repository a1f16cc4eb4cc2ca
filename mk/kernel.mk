# The kernel side's own test (pkg/tracer, TestTracerKernel) as one static
# binary, run in the qemu guests of the kernel matrix in both attach modes.

.PHONY: vm-tracer-test

bin/tracer.test: $(BPF_OBJ) $(GO_SRC)
	go test -c -trimpath -tags netgo,osusergo \
		-ldflags '-linkmode external -extldflags "-static"' -o $@ ./pkg/tracer

# One boot per kernel line; inside, the test runs once per mode. Fails if any run fails.
TRACER_MODES ?= kprobe tracepoint
vm-tracer-test: bin/tracer.test
	@fail=0; for line in $(KERNELS); do \
	  case $$line in 5.10) suite=bullseye;; 6.1) suite=bookworm;; 6.12) suite=trixie;; *) echo "unknown kernel line $$line"; exit 2;; esac; \
	  vmlinuz=$$(scripts/vm/fetch-kernel.sh $$suite | head -n1) || exit 2; \
	  log=$${TMPDIR:-/tmp}/httptrace-tracer-$$line.log; \
	  scripts/vm/run-guest.sh --kernel $$vmlinuz --timeout 600 --add bin/tracer.test:/bin/tracer.test -- \
	    sh -c 'rc=0; for m in $(TRACER_MODES); do HTTPTRACE_ATTACH=$$m /bin/tracer.test -test.v -test.run "^TestTracerKernel$$" || rc=1; done; exit $$rc' \
	    >$$log 2>&1 && res=PASS || { res=FAIL; fail=1; }; \
	  echo "$$res kernel=$$line $$(grep -o 'mode=[a-z]* kernel=[^ ]* data=[0-9]* closes=[0-9]* procs=[0-9]*' $$log | tr '\n' ' ')(log $$log)"; \
	done; exit $$fail
