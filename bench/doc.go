// Package bench is the load harness of issue 6: it starts, on loopback and
// one after another, the sidecar (`pdp serve` with state, velocity, the
// example plugins and, when the binary has it, the decision log), `opa run
// --server` at the version pinned in the root go.mod with the same policy and data,
// and a no-op fasthttp handler (the floor), and drives each with requests
// of the same population from its own fasthttp client (by default the
// simulator's, pdp/sim: the sidecar plays its customers' sessions at
// their own pace, step-ups answered; OPA and the floor get the sessions'
// decide requests; MixZipf is the stress case): a closed loop at
// fixed concurrency (throughput at saturation) and open loops at fixed
// offered rates (latency from the intended send time, so coordinated
// omission is corrected; HDR histograms). It then runs the scale checks
// (rule count, reputation store size, plugin count), and writes a JSON
// result file, SVG charts (gonum/plot), CPU profiles and a summary table
// for bench/README.md.
//
// The command is bench/cmd/pdpbench (`make bench`, `make bench-smoke`); README.md in this
// directory says what is measured, what differs between the targets and
// why, and holds the latest numbers. The harness is its own module
// (bench/go.mod), so its dependencies stay out of the sidecar's.
package bench
