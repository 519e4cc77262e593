# One command checks everything; CI (.ci/run) runs exactly `make test`.
SHELL := /bin/bash
GO    ?= go
OPA   := $(GO) tool opa

.PHONY: run test check lint gotest policy-test fuzz bench build clean charts-tools charts-test

## run: start the sidecar on its embedded defaults (127.0.0.1:9191)
run:
	$(GO) run ./pdp/cmd/pdp serve

## build: build bin/pdp
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/pdp ./pdp/cmd/pdp

## test: everything CI checks — format, vet, policies, Helm charts and image, Go tests (race), short fuzzing
test: deps check policy-test charts-test gotest fuzz-short

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

## gotest: the Go test suite with the race detector (./charts runs in charts-test),
## then the 100k-decision SIGTERM log test full size (10k under -race)
gotest:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/charts$$')
	$(GO) test -count=1 -run '^TestDecisionLogSIGTERM$$' -v ./pdp/cli/

## charts-tools: helm and kubectl-validate, pinned, built with go install into .bin/
## (a few minutes the first time; reinstalled only when the pinned version changes)
HELM_VERSION             := v3.22.0
KUBECTL_VALIDATE_VERSION := v0.0.4
TOOLS_BIN                := $(CURDIR)/.bin
# install-tool BINARY, PACKAGE, VERSION: go install unless .bin/BINARY is that module version.
define install-tool
	@if [ "$$($(GO) version -m $(TOOLS_BIN)/$(1) 2>/dev/null | awk '$$1 == "mod" {print $$3}')" != "$(3)" ]; then \
		echo "installing $(1) $(3) into .bin/ with go install"; \
		GOBIN=$(TOOLS_BIN) $(GO) install $(2)@$(3); \
	fi
endef
charts-tools:
	$(call install-tool,helm,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))
	$(call install-tool,kubectl-validate,sigs.k8s.io/kubectl-validate,$(KUBECTL_VALIDATE_VERSION))

## charts-test: helm lint --strict, helm template (defaults, all-on, variants), kubectl-validate,
## assertions and binary cross-checks on the manifests, offline image build (see charts/doc.go)
charts-test: charts-tools
	HELM=$(TOOLS_BIN)/helm KUBECTL_VALIDATE=$(TOOLS_BIN)/kubectl-validate $(GO) test -count=1 ./charts/

FUZZTIME ?= 5s

## fuzz-short: every fuzz target in the repository for $(FUZZTIME) (CI);
## `make fuzz FUZZTIME=5m` for a long run. Targets are discovered, never listed.
fuzz-short fuzz:
	@set -eo pipefail; grep -rn --include='*_test.go' '^func Fuzz' pdp charts 2>/dev/null | \
	sed -E 's|^(.*)/[^/]*_test.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*).*|\1 \2|' | sort | \
	while read -r dir fn; do \
		echo "fuzz ./$$dir $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x ./$$dir | tail -1; \
	done

## bench: in-process benchmarks of the decision path
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./pdp/...

clean:
	rm -rf bin
