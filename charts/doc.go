// Package charts holds no code: its tests check the Helm charts in this
// directory and the container image the repository's Dockerfile defines,
// offline, as part of `make test`.
//
//   - pdp-sidecar is a library chart: named templates that add the pdp
//     sidecar (container, volumes, config, the app's PDP_URL) to an
//     application's pod; its values live under .Values.pdp of the app chart,
//     which depends on it with `alias: pdp`.
//   - pdp-demo is an application chart using it, with the reference policies.
//
// The tests lint both charts (helm lint --strict), render the demo with its
// defaults, with every option on (pdp-demo/ci/all-on-values.yaml) and in a few
// variants, validate the manifests against the Kubernetes 1.30 schemas
// (kubectl-validate, plus the Prometheus Operator CRDs in testdata/crds),
// assert on them (native sidecar, probes, restricted security context,
// mounts without subPath, environment), check that wrong values fail with a
// schema error, and tie the chart to the binary: every rendered flag is one
// `pdp serve --help` lists, every rendered config file passes the sidecar's
// strict decoder and validation (`pdp serve --check-config`), the values
// schema mirrors the Config of pdp/internal/config (read from its source), and the
// rendered container starts `pdp serve` (the binary of this tree, its
// volumes laid out as the kubelet would) and answers a decision from the
// ConfigMap's policies. The Grafana dashboard and the PrometheusRule the
// library ships are checked too: the rendered alerts under promtool (check
// rules, and the unit tests of testdata/alerts), the dashboard's structure
// (and against Grafana's schemas, with the strict decoder of Grafana's Go
// SDK) and queries, and every metric either reads against the /metrics of a
// running pdp with every component on (decision log, operator API, shadow,
// Redis, a bundle carrying a plugin).
// The image test builds the Dockerfile's final stage with go-containerregistry
// (no Docker engine, no base image) and checks the result.
//
// The package lives next to the charts because that is what it tests; it
// imports none of the sidecar's packages (they are internal to the root
// module): it builds and runs the pdp binary, as the pod does.
//
// helm and kubectl-validate come from .bin/ (make charts-tools installs them
// with go install, pinned; promtool it unpacks from the distribution's
// prometheus package) or from $HELM / $KUBECTL_VALIDATE / $PROMTOOL. Without
// them the chart tests skip, unless CI=true, where they fail; the metrics
// test needs redis-server (make deps) likewise.
//
// The tests are their own module (charts/go.mod, using the sidecar's module
// through a replace directive), so go-containerregistry, which they need to
// build the image, stays out of the sidecar's module graph: run them with
// `make charts-test` or `cd charts && go test ./...`.
package charts
