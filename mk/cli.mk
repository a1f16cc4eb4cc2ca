# The built binary against bad input and real processes (root): exit
# statuses and messages, lifecycle, nothing left loaded after SIGKILL.

.PHONY: test-cli

test-cli: bin/httptrace
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace HTTPTRACE_ATTACH=$(ATTACH) go test -count=1 -v ./test/cli/
