# Go fuzz targets: every FuzzXxx in the repository, found per package with
# `go test -list`, so a new target runs without editing this file.
#   make fuzz         each target for FUZZTIME (default 60s)
#   make fuzz-smoke   each target for FUZZ_SMOKE_TIME (default 50000 inputs); make test runs it
#
# The smoke run counts inputs rather than seconds: with a time budget, Go's
# fuzz coordinator before 1.27 can report "context deadline exceeded" as a
# failure when the time runs out while a worker is busy (golang/go#75804),
# which a loaded machine makes likely. A count has no deadline to race.

FUZZTIME        ?= 60s
FUZZ_SMOKE_TIME ?= 50000x
FUZZ_PKGS       ?= ./...
# Minimising each new input may take up to a minute by default, which would
# eat short runs; failures are still minimised within this bound.
FUZZ_MINIMIZE   ?= 5s

.PHONY: fuzz fuzz-smoke fuzz-list

# The BPF object is embedded, so packages that open it need it built.
fuzz: $(BPF_OBJ)
	@$(call run-fuzz,$(FUZZTIME))

fuzz-smoke: $(BPF_OBJ)
	@$(call run-fuzz,$(FUZZ_SMOKE_TIME))

fuzz-list: $(BPF_OBJ)
	@$(call list-fuzz)

# list-fuzz prints "package FuzzName" for each target. Packages whose test
# files mention "func Fuzz" are asked with go test -list (which fails when
# their tests do not build); the others are not compiled for nothing.
define list-fuzz
set -euo pipefail; \
for dir in $$(go list -f '{{.Dir}}' $(FUZZ_PKGS)); do \
	grep -qs '^func Fuzz' "$$dir"/*_test.go || continue; \
	pkg=$$(go list "$$dir"); \
	out=$$(go test -list '^Fuzz' "$$pkg"); \
	for name in $$(grep '^Fuzz' <<< "$$out" || true); do echo "$$pkg $$name"; done; \
done
endef

# run-fuzz runs each target for $(1), one at a time (go test -fuzz takes one
# target per run), then says how many ran; any failure stops it.
define run-fuzz
set -euo pipefail; \
targets=$$($(list-fuzz)); \
[ -n "$$targets" ] || { echo "no fuzz targets found" >&2; exit 1; }; \
n=0; \
while read -r pkg name; do \
	echo "fuzz: $$name in $$pkg for $(1)"; \
	go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(1) -fuzzminimizetime $(FUZZ_MINIMIZE) "$$pkg"; \
	n=$$((n+1)); \
done <<< "$$targets"; \
echo "fuzz: $$n targets passed"
endef
