# Hostile and broken traffic against a traced server: httptrace must not
# crash, must stay under its memory bound, and must flag what it cannot log.

.PHONY: test-hostile

test-hostile: bin/httptrace
	HTTPTRACE_BIN=$(CURDIR)/bin/httptrace HTTPTRACE_ATTACH=$(ATTACH) go test -count=1 -v ./test/hostile/
