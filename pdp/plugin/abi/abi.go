// Package abi is the contract between the plugin host (pdp/internal/plugin) and the
// scoring plugins it runs: the ABI version, the names of the exports, the
// layout of the exchange buffer in guest memory, and the feature record.
//
// It imports nothing, so guest code (compiled with GOOS=wasip1 GOARCH=wasm)
// can share it with the host. plugins/ABI.md is the prose version of this
// file; a change here is a change there.
package abi

// Version is the ABI version this package describes. A guest exports it
// from VersionExport and its manifest repeats it; the host refuses a module
// whose version differs.
const Version = 1

// Names of the exports a v1 guest provides.
const (
	// VersionExport is `() -> i32`, returning Version.
	VersionExport = "riskpdp_abi_version"
	// BufferExport is `() -> i32`, returning the address of the exchange
	// buffer (BufferSize bytes, 8-byte aligned) in the exported memory.
	// The host calls it once per instance and caches the address.
	BufferExport = "riskpdp_buffer"
	// ScoreExport is `() -> f64`: read the features from the buffer, write
	// the reason bitmask to ReasonsOffset, return the score in [0, 1], or
	// ScoreError.
	ScoreExport = "riskpdp_score"
	// MemoryExport is the guest's linear memory.
	MemoryExport = "memory"
	// InitializeExport is the optional reactor initializer (Go's
	// -buildmode=c-shared emits it). The host calls it once per instance.
	InitializeExport = "_initialize"
	// ReservedPrefix starts the names the host adds to a module when it
	// instruments it; a guest must not export names with this prefix.
	ReservedPrefix = "__riskpdp"
)

// ScoreError is the score a guest returns to report that it failed (the Go
// SDK returns it when no scoring function is registered; a panic ends a Go
// guest, which the host also counts as a trap). The host counts it as a
// trap.
const ScoreError = -1

// Layout of the exchange buffer. Slot i (a little-endian float64) holds
// feature i at byte offset 8*i. The record can grow to Slots features
// without changing the layout, which is why Slots is larger than
// NumFeatures.
const (
	// Slots is the number of feature slots in the buffer.
	Slots = 64
	// ReasonsOffset is the byte offset of the uint64 reason bitmask the
	// guest writes: bit i set means reason i of its manifest.
	ReasonsOffset = 8 * Slots
	// BufferSize is the size of the exchange buffer in bytes.
	BufferSize = ReasonsOffset + 8
	// MaxReasons is the most reasons a manifest may declare.
	MaxReasons = 64
)
