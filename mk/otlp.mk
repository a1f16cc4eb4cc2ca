# The OTLP export against a real Jaeger, built from its own module
# (test/jaeger) so that its dependencies stay out of httptrace's go.mod.

.PHONY: test-otlp

JAEGER_MOD := test/jaeger

# Niced: `make test` builds it beside the install and the other tiers,
# from CPU they leave idle. Without optimisation (-N -l): a test backend,
# built in a quarter less time (5 minutes of a cold 2-core machine).
bin/jaeger: $(JAEGER_MOD)/go.mod $(JAEGER_MOD)/go.sum
	@mkdir -p bin
	@echo "building Jaeger into $@ (log: bin/jaeger.log)"
	@cd $(JAEGER_MOD) && nice -n 19 go build -trimpath -gcflags=all='-N -l' -ldflags '-s -w' -o $(CURDIR)/$@ \
		github.com/jaegertracing/jaeger/cmd/jaeger > $(CURDIR)/bin/jaeger.log 2>&1 || \
		{ tail -30 $(CURDIR)/bin/jaeger.log >&2; exit 1; }
	@echo "built $@"

# Spans of real servers' exchanges exported to Jaeger, read back through its
# query API.
test-otlp: bin/httptrace bin/jaeger
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace HTTPTRACE_ATTACH=$(ATTACH) HTTPTRACE_E2E_REQUIRE_ALL=1 \
		HTTPTRACE_JAEGER=$(CURDIR)/bin/jaeger go test -count=1 -v -run '^TestOTLP' ./test/e2e/
