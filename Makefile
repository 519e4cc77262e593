# One command checks everything; CI (.ci/run) runs exactly `make test`.
SHELL := /bin/bash
GO    ?= go
OPA   := $(GO) tool opa

.PHONY: run test check lint gotest policy-test fuzz bench build clean

## run: start the sidecar on its embedded defaults (127.0.0.1:9191)
run:
	$(GO) run ./pdp/cmd/pdp serve

## build: build bin/pdp
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/pdp ./pdp/cmd/pdp

## test: everything CI checks — format, vet, policies, Go tests (race), short fuzzing
test: deps check policy-test gotest fuzz-short

## deps: install the system tools the tests use (clang/lld build the C example plugin)
APT_PKGS := clang lld
deps:
	@missing=""; for c in clang wasm-ld; do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
		echo "installing $(APT_PKGS) with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi

## check: gofmt, go vet, go.mod tidy
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod verify

## policy-test: opa fmt/check --strict/test on policies/ with the pinned OPA CLI
policy-test:
	@out=$$($(OPA) fmt -l policies); if [ -n "$$out" ]; then echo "opa fmt needed:"; echo "$$out"; exit 1; fi
	$(OPA) check --strict policies
	$(OPA) test policies

## gotest: the Go test suite with the race detector
gotest:
	$(GO) test -race -count=1 ./...

FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./pdp/engine:FuzzDecodeRequest \
	./pdp/engine:FuzzParserMatchesEncodingJSON \
	./pdp/engine:FuzzFastPathMatchesTopdown \
	./pdp/config:FuzzDecode \
	./pdp/decisionlog:FuzzMaskJSON \
	./pdp/decisionlog:FuzzReader \
	./pdp/decisionlog:FuzzAppendRecord \
	./pdp/decisionlog:FuzzCompactJSON

## fuzz-short: every fuzz target for $(FUZZTIME) (CI); `make fuzz FUZZTIME=5m` for a long run
fuzz-short fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done

## bench: in-process benchmarks of the decision path
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./pdp/...

clean:
	rm -rf bin
