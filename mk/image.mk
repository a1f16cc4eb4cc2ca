# The container image: localhost/httptrace:<version>, FROM scratch with the
# static binary, built with podman (Debian's package; nothing is pulled).

.PHONY: image

IMAGE ?= localhost/httptrace:$(VERSION)

image: bin/httptrace-static
	@d=$$(mktemp -d) && cp bin/httptrace-static $$d/httptrace && \
		podman build -q -f deploy/Containerfile -t $(IMAGE) $$d >/dev/null; rc=$$?; rm -rf $$d; \
		[ $$rc -eq 0 ] && echo "built $(IMAGE)"; exit $$rc

.PHONY: test-deploy

# deploy/kubernetes against what httptrace doctor requires, and the image
# run under podman with the DaemonSet's security context (root).
test-deploy: image
	HTTPTRACE_IMAGE=$(IMAGE) HTTPTRACE_E2E_REQUIRE_ALL=1 HTTPTRACE_ATTACH=$(ATTACH) go test -count=1 -v ./test/deploy/
