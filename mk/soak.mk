# Soak test (root, not part of make test): about a million requests over
# loopback against a prefork server that recycles its workers, traced by
# httptrace; writes docs/SOAK.md. Bounded by SOAK_MAX_SECONDS for the load.

SOAK_REQUESTS    ?= 1000000
SOAK_PER_CONN    ?= 10
SOAK_MAX_SECONDS ?= 600
SOAK_ATTACH      ?= $(ATTACH)
SOAK_REPORT      ?= docs/SOAK.md

.PHONY: soak

bin/soak-load: scripts/soak/load/main.go go.mod
	go build -o $@ ./scripts/soak/load

soak: bin/httptrace bin/soak-load
	python3 scripts/soak/soak.py --bin bin/httptrace --load bin/soak-load \
		--attach $(SOAK_ATTACH) --requests $(SOAK_REQUESTS) --per-conn $(SOAK_PER_CONN) \
		--max-seconds $(SOAK_MAX_SECONDS) --out $(SOAK_REPORT)
