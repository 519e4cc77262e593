// Package plugin runs risk-scoring plugins: WebAssembly modules, sandboxed
// in-process with wazero, that score a fixed feature record next to the
// Rego policy. The policy sees each plugin's score and reason codes under
// input.scores; see plugins/ABI.md for the guest contract and
// plugins/README.md for the example plugins.
//
// A Host loads a directory of plugins (a manifest NAME.yaml next to each
// module NAME.wasm) into an immutable Set: every module is checked,
// instrumented, compiled once (with a file-backed compilation cache), given
// a pool of pre-instantiated instances and smoke-tested before the set
// replaces the current one in a single atomic swap. A refused set leaves the
// current one serving; a replaced set closes after its last in-flight call.
//
// Set.Score writes the features each plugin declares into its instance's
// exchange buffer and calls one export; no JSON, no host calls and no
// allocation on the hot path. A plugin that traps, overruns its budget,
// leaves its memory or returns garbage gets a FaultKind in its Result, its
// instance is replaced, the fault is counted (Stats), and the decision
// follows the plugin's failure mode: Result.FailClosed means "fall back to
// step_up", an error without it means "ignore this plugin". A plugin that
// keeps failing is quarantined with exponential back-off.
//
// # RATIONALE: bounding a call without a goroutine per call
//
// wazero bounds a call with RuntimeConfig.WithCloseOnContextDone: compiled
// code checks at every loop head whether the module was closed, and
// CallWithStack watches the context. In wazero v1.12.0 the second half
// starts a goroutine and a channel for every call whatever the context
// (CloseModuleOnCanceledOrTimeout in internal/wasm/module_instance.go runs
// unconditionally when the flag is on), so a context whose Done() is nil
// does not help: measured, 3 allocations and about twenty times the time
// of a call without it (README.md, "Measured costs of the components"). Its loop check also leaves native code for Go at every
// loop iteration.
//
// This package compiles without that flag and instead instruments each
// module before compiling it (instrument.go): at every function entry and
// loop head the guest decrements a fuel counter held in a global and traps
// when it reaches zero. The host sets the fuel before a call (a plain
// store); one watchdog goroutine per set samples running calls every
// Config.WatchdogInterval and sets the fuel of a call seen running for
// longer than its time budget to 1, so it traps at its next check. Per call
// this costs a store to the fuel global and two atomic operations on the
// instance's generation word; per function entry or loop iteration five
// instructions. Measured on a guest that returns a constant, Set.Score costs
// about two and a half bare CallWithStack calls (BenchmarkOverhead; that
// includes pool, marshaling and result checks); on the habit_deviation
// guest the instrumentation itself adds ~10-25% to the guest's run time
// (BenchmarkCall). A timed-out call is stopped between budget and
// budget + 2 intervals after it started, never before; a call the watchdog
// marked that still returns normally keeps its result (the delay may have
// been the host's).
//
// Native code cannot be preempted by the Go scheduler, and a garbage
// collection's stop-the-world waits for it (wazero's RATIONALE, "Why context
// cancellation is handled in Go code"); a watchdog goroutine can then be
// starved exactly when it is needed: observed, a spinning guest held a GC
// stop-the-world, and with it the watchdog, for seconds, until its fuel ran
// out. Two things keep that bounded: the fuel itself, which stops
// a call after a deterministic amount of work even if no other goroutine
// ever runs (TestFuelBoundsWithoutWatchdog pins GOMAXPROCS to 1), and a
// yield every 16384 units of fuel, a memory.grow(0) that wazero serves in
// Go code, which gives the runtime a preemption point, so a stop-the-world
// or the watchdog waits at most tens of microseconds.
//
// The trade-offs: the module the host runs is not byte-for-byte the module
// shipped (DWARF sections are dropped because their offsets no longer
// match); instructions beyond WebAssembly 2.0 are refused at load; the time
// budget is a sampled bound, not a deadline to the microsecond; and the
// fuel is a second limit for plugin authors to respect (Config.Fuel,
// manifest limits.fuel), counted in function entries plus loop iterations
// rather than time.
package plugin
