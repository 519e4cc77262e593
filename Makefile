# One command checks everything; CI (.ci/run) runs exactly `make test`.
SHELL := /bin/bash
GO    ?= go
OPA   := $(GO) tool opa

# The Go modules of the repository: the sidecar's (the root: what bin/pdp is
# built from) and the tools' own, so their dependencies stay out of the
# sidecar's module graph: bench/ (the load harness) and charts/ (the chart
# tests). Each tool module requires the root module through
# `replace github.com/riskpdp/riskpdp => ../`.
MODULES := . bench charts

.PHONY: soak run test check deps-report gotest policy-test fuzz fuzz-short bench bench-micro bench-smoke build clean charts-tools charts-test
.PHONY: java-client-test client-ts-test

## run: start the sidecar on its embedded defaults (127.0.0.1:9191)
run:
	$(GO) run ./pdp/cmd/pdp serve

## build: build bin/pdp
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/pdp ./pdp/cmd/pdp

## test: everything CI checks — format, vet, policies, Helm charts and image, Go tests (race), short fuzzing
test: deps check policy-test charts-test gotest fuzz-short bench-smoke java-client-test client-ts-test

## the Java client (pdp/client/java): Debian's JDK (17 on bookworm) and Maven, and the plugins and
## libraries its pom.xml names at the versions Debian installs into /usr/share/maven-repo
JAVA_APT_PKGS := default-jdk-headless maven libjackson2-databind-java junit5 libmaven-resources-plugin-java \
	libmaven-compiler-plugin-java libsurefire-java libmaven-jar-plugin-java
JAVA_REPO := /usr/share/maven-repo
JAVA_REPO_DIRS := com/fasterxml/jackson/core/jackson-databind/2.14.0 org/junit/jupiter/junit-jupiter/5.9.2 \
	org/apache/maven/plugins/maven-resources-plugin/3.3.0 org/apache/maven/plugins/maven-compiler-plugin/3.10.1 \
	org/apache/maven/plugins/maven-surefire-plugin/2.22.3 org/apache/maven/plugins/maven-jar-plugin/3.3.0

## deps: install the system tools the tests use (clang/lld build the C example plugin;
## redis-server backs the pdp/internal/fleet and Redis serve tests; chromium runs the console's
## browser tests in pdp/internal/admin/console, fonts-noto-cjk draws their Chinese screenshots)
## nodejs and npm (the TypeScript client's tests in pdp/client/ts; Node ≥ 18) are installed apart,
## each only when its command is missing: a machine whose nodejs comes from NodeSource has npm
## inside it, and that nodejs conflicts with Debian's npm package (apt-get would refuse APT_PKGS)
APT_PKGS := clang lld redis-server chromium fonts-noto-cjk $(JAVA_APT_PKGS)
deps:
	@missing=""; for c in clang wasm-ld redis-server chromium; do command -v $$c >/dev/null || missing=1; done; \
	for c in javac mvn; do command -v $$c >/dev/null || missing=1; done; \
	for d in $(JAVA_REPO_DIRS); do [ -d $(JAVA_REPO)/$$d ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
		echo "installing $(APT_PKGS) with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi
	@for c in node npm; do if ! command -v $$c >/dev/null; then \
		pkg=$$( [ $$c = node ] && echo nodejs || echo npm ); echo "installing $$pkg with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$pkg >/dev/null; \
	fi; done

## check: gofmt, then in every module of $(MODULES): go vet, staticcheck (pinned in the
## root go.mod; exceptions are //lint:ignore lines, each with its reason), go.mod tidy
## (`go mod tidy -diff`) and verified
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -e; staticcheck=$$($(GO) tool -n staticcheck); \
	for m in $(MODULES); do \
		echo "module $$m: go vet, staticcheck, go mod tidy -diff, go mod verify"; \
		$(GO) -C $$m vet ./...; \
		(cd $$m && $$staticcheck ./...); \
		$(GO) -C $$m mod tidy -diff; \
		$(GO) -C $$m mod verify; \
	done

## deps-report: the Go toolchain and every module compiled into bin/pdp, with its
## version, read from the binary it builds (`go version -m bin/pdp`: what a vulnerability
## review checks against advisories; govulncheck needs its online database).
## `go list -m all` is the root module's whole graph (modules required, not all compiled in).
deps-report: build
	@$(GO) version -m bin/pdp | awk '$$1 == "bin/pdp:" {print "go " $$2} $$1 == "dep" {print $$2, $$3} $$1 == "=>" {print "  => " $$2, $$3}'

## policy-test: opa fmt/check --strict/test on policies/ with the pinned OPA CLI
policy-test:
	@out=$$($(OPA) fmt -l policies); if [ -n "$$out" ]; then echo "opa fmt needed:"; echo "$$out"; exit 1; fi
	$(OPA) check --strict --schema policies/riskpdp/schemas/input.json policies
	$(OPA) test policies

## gotest: the Go test suites of the root module and of bench/ with the race detector
## (charts/ runs in charts-test), then the 100k-decision SIGTERM log test and the
## 100k-record logger test full size (10k and 20k under -race), and the whole
## differential corpus (x10 and x100 generated rules included: pdp/internal/policy/corpus_test.go)
## without the race detector; the console's browser test needs chromium (make deps)
gotest:
	PDP_REQUIRE_BROWSER=1 $(GO) test -race -count=1 ./...
	$(GO) -C bench test -race -count=1 ./...
	$(GO) test -count=1 -run '^(TestDecisionLogSIGTERM|TestAsync100k)$$' -v ./pdp/internal/cli/ ./pdp/internal/decisionlog/
	PDP_CORPUS_ALL=1 $(GO) test -count=1 -run '^TestCorpus$$' ./pdp/internal/policy/

## charts-tools: helm and kubectl-validate, pinned, built with go install into .bin/
## (a few minutes the first time; reinstalled only when the pinned version changes),
## and promtool from the distribution's prometheus package
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
# promtool (`promtool check rules`, `promtool test rules` on the chart's alerts) is
# taken from the distribution's prometheus package without installing it (apt-get
# download, dpkg-deb -x: no server, no service started): seconds, where building
# it with go install took 19 minutes here. Reinstalled when missing.
charts-tools:
	$(call install-tool,helm,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))
	$(call install-tool,kubectl-validate,sigs.k8s.io/kubectl-validate,$(KUBECTL_VALIDATE_VERSION))
	@if [ ! -x $(TOOLS_BIN)/promtool ]; then \
		echo "extracting promtool from the prometheus package (apt-get download) into .bin/"; \
		set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
		if ! (cd $$tmp && apt-get download prometheus >/dev/null 2>&1); then \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq; \
			(cd $$tmp && apt-get download prometheus >/dev/null); \
		fi; \
		dpkg-deb -x $$tmp/prometheus_*.deb $$tmp/root; \
		mkdir -p $(TOOLS_BIN); install -m 0755 $$tmp/root/usr/bin/promtool $(TOOLS_BIN)/promtool; \
		$(TOOLS_BIN)/promtool --version | head -1; \
	fi

## charts-test: helm lint --strict, helm template (defaults, all-on, variants), kubectl-validate,
## assertions and binary cross-checks on the manifests, the alerts under promtool test rules,
## the dashboard's and alerts' metrics against a running pdp's /metrics, offline image build
## (see charts/doc.go)
charts-test: charts-tools
	HELM=$(TOOLS_BIN)/helm KUBECTL_VALIDATE=$(TOOLS_BIN)/kubectl-validate PROMTOOL=$(TOOLS_BIN)/promtool $(GO) -C charts test -count=1 -timeout 30m ./...

## java-client-test: the Java client (pdp/client/java) built and tested by Maven offline from
## Debian's packaged artifacts (its settings.xml mirrors every repository to /usr/share/maven-repo;
## make deps installs them), its tests run against a live bin/pdp they start
java-client-test: build
	cd pdp/client/java && mvn -B -ntp -s settings.xml -Dpdp.bin=$(CURDIR)/bin/pdp test

FUZZTIME ?= 5s

## fuzz-short: every fuzz target in the repository for $(FUZZTIME) (CI); a run that ends with
## "context deadline exceeded" and no failing input (Go's fuzzer, when the time runs out during
## the minimization of a new coverage input) is not a finding;
## fuzz: the same for 2m each (`make fuzz FUZZTIME=30m` for longer); a crash
## is written to the package's testdata/fuzz/FuzzXxx/ and fails the run.
## Targets are discovered in every tracked test file, never listed; each runs from
## its own module (the nearest go.mod above its directory).
fuzz: FUZZTIME = 2m
fuzz-short fuzz:
	@set -eo pipefail; grep -n '^func Fuzz' $$(git ls-files '*_test.go') | \
	sed -E 's|^(.*)/[^/]*_test.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*).*|\1 \2|' | sort | \
	while read -r dir fn; do \
		mod=$$dir; while [ ! -f "$$mod/go.mod" ]; do mod=$$(dirname "$$mod"); done; \
		if [ "$$mod" = . ]; then pkg=./$$dir; elif [ "$$mod" = "$$dir" ]; then pkg=.; else pkg=./$${dir#$$mod/}; fi; \
		echo "fuzz ./$$dir $$fn ($(FUZZTIME))"; \
		out=$$($(GO) -C $$mod test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg 2>&1) || \
			if echo "$$out" | grep -q 'Failing input written' || ! echo "$$out" | grep -q '^    context deadline exceeded$$'; then \
				echo "$$out" | tail -40; exit 1; \
			else echo "(the fuzz time ran out while the engine minimized a new coverage input: no finding)"; fi; \
		echo "$$out" | tail -1; \
	done

## soak: a real pdp with the full configuration at 70 % of its measured saturation for
## SOAK_DURATION (10m); writes bench/soak/soak.csv and soak.svg (CI runs a 15 s TestSoak)
SOAK_DURATION ?= 10m
soak:
	set -o pipefail; SOAK_DURATION=$(SOAK_DURATION) SOAK_OUT=$(CURDIR)/bench/soak $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 30m ./pdp/internal/cli/ | grep -v '^time='

## bench-micro: in-process benchmarks of the decision path
bench-micro:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./pdp/...

## bench: the load harness (bench/, its own module): sidecar vs opa run --server vs the
## fasthttp floor, closed and open loops, scale checks; writes bench/results/ and the table
## in bench/README.md
BENCH_FLAGS ?=
bench: deps
	$(GO) -C bench run ./cmd/pdpbench -root $(CURDIR) -out $(CURDIR)/bench/results -readme $(CURDIR)/bench/README.md $(BENCH_FLAGS)

## bench-smoke: the harness briefly, at its smallest scale points, with a sanity check of
## its numbers (never a speed threshold); results go to a temporary directory
bench-smoke:
	@out=$$(mktemp -d); trap 'rm -rf $$out' EXIT; \
	$(GO) -C bench run ./cmd/pdpbench -root $(CURDIR) -smoke -profile -out $$out -readme ''

## client-ts-test: the TypeScript client (pdp/client/ts): npm ci (pinned devDependencies), the
## committed types regenerated from pdp/internal/openapi/decision.json with openapi-typescript and
## compared, tsc (strict), then `node --test` against a live `pdp serve` of bin/pdp
client-ts-test: build
	cd pdp/client/ts && npm ci --no-audit --no-fund --loglevel=error && npm run --silent generate:check && npm run --silent build && PDP_BIN=$(CURDIR)/bin/pdp npm test

clean:
	rm -rf bin
