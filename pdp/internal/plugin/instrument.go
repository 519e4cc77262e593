package plugin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// The instrumenter rewrites a guest module before it is compiled so that
// the host can bound and diagnose it without wazero's per-call context
// watchdog (see RATIONALE in doc.go):
//
//   - It adds a mutable i32 global, the fuel, exported as fuelExport. At the
//     entry of every function and at the head of every loop the guest traps
//     (unreachable) when the fuel is 0 and otherwise decrements it. Every
//     unbounded execution passes one of those points, so a call that starts
//     with fuel F runs at most F function entries plus loop iterations. The
//     host sets F before each call; the shared watchdog sets it to 1 to stop
//     a call that overran its time budget.
//   - It adds a second i32 global, exported as growExport, that records the
//     result of the last memory.grow, so a trap after a refused growth is
//     reported as a memory fault, and a third, exported as tripExport, set
//     to 1 just before the fuel check traps, so the host can tell its own
//     stop from a trap of the guest.
//   - Every yieldEvery units of fuel the check calls memory.grow(0), which
//     wazero serves in Go: the goroutine reaches a preemption point, so a
//     long call does not hold up the garbage collector's stop-the-world or
//     starve the watchdog.
//   - It caps the maximum of the module's memory at the plugin's limit, so
//     memory.grow past the cap returns -1 instead of growing.
//   - It drops DWARF custom sections, whose code offsets it invalidates.
//
// It accepts the instructions of WebAssembly 2.0 (what wazero enables by
// default) and refuses anything else with an error naming the opcode.

const (
	fuelExport = abi.ReservedPrefix + "_fuel"
	growExport = abi.ReservedPrefix + "_grow"
	tripExport = abi.ReservedPrefix + "_trip"
)

// instrument rewrites wasm as described above. maxPages caps the memory.
func instrument(wasm []byte, maxPages uint32) ([]byte, error) {
	secs, err := splitSections(wasm)
	if err != nil {
		return nil, err
	}
	var (
		importedGlobals uint32
		definedGlobals  uint32
		haveMemory      bool
		globalAt        = -1
		exportAt        = -1
		codeAt          = -1
	)
	for i, s := range secs {
		switch s.id {
		case secImport:
			importedGlobals, err = scanImports(s.payload)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
		case secGlobal:
			globalAt = i
			r := &reader{b: s.payload}
			if definedGlobals, err = r.u32(); err != nil {
				return nil, fmt.Errorf("global section: %w", err)
			}
		case secMemory:
			p, err := capMemory(s.payload, maxPages)
			if err != nil {
				return nil, err
			}
			secs[i].payload = p
			haveMemory = true
		case secExport:
			exportAt = i
		case secCode:
			codeAt = i
		}
	}
	if !haveMemory {
		return nil, errors.New("module defines no memory (the ABI needs an exported memory)")
	}
	if exportAt < 0 || codeAt < 0 {
		return nil, errors.New("module exports no functions")
	}
	g := globals{fuel: importedGlobals + definedGlobals}
	g.grow, g.trip = g.fuel+1, g.fuel+2

	// Globals: append three mutable i32 globals initialized to 0.
	var newGlobals []byte
	for range 3 {
		newGlobals = append(newGlobals, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	}
	if globalAt >= 0 {
		r := &reader{b: secs[globalAt].payload}
		_, _ = r.u32()
		p := appendU32(nil, definedGlobals+3)
		p = append(p, secs[globalAt].payload[r.pos:]...)
		secs[globalAt].payload = append(p, newGlobals...)
	} else {
		p := append(appendU32(nil, 3), newGlobals...)
		secs = insertSection(secs, section{id: secGlobal, payload: p})
		exportAt++ // the export section follows the inserted one
		codeAt++
	}

	p, err := appendExports(secs[exportAt].payload, g)
	if err != nil {
		return nil, fmt.Errorf("export section: %w", err)
	}
	secs[exportAt].payload = p

	code, err := rewriteCode(secs[codeAt].payload, g)
	if err != nil {
		return nil, fmt.Errorf("code section: %w", err)
	}
	secs[codeAt].payload = code

	out := secs[:0]
	for _, s := range secs {
		if s.id == secCustom && isDebugSection(s.payload) {
			continue
		}
		out = append(out, s)
	}
	return joinSections(out, len(wasm)+len(wasm)/8), nil
}

// scanImports counts imported globals and refuses imported memories.
func scanImports(p []byte) (globals uint32, err error) {
	r := &reader{b: p}
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return 0, err
		}
		name, err := r.name()
		if err != nil {
			return 0, err
		}
		kind, err := r.byte()
		if err != nil {
			return 0, err
		}
		switch kind {
		case 0x00: // func: type index
			if _, err := r.u32(); err != nil {
				return 0, err
			}
		case 0x01: // table: reftype, limits
			if _, err := r.byte(); err != nil {
				return 0, err
			}
			if err := skipLimits(r); err != nil {
				return 0, err
			}
		case 0x02:
			return 0, fmt.Errorf("imports memory %s.%s: a plugin must define and export its own memory", mod, name)
		case 0x03: // global: valtype, mut
			if _, err := r.bytes(2); err != nil {
				return 0, err
			}
			globals++
		default:
			return 0, fmt.Errorf("import %s.%s has unsupported kind %#x", mod, name, kind)
		}
	}
	return globals, nil
}

func skipLimits(r *reader) error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flag&1 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// capMemory rewrites the memory section so the maximum is at most
// maxPages.
func capMemory(p []byte, maxPages uint32) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, fmt.Errorf("module defines %d memories, the ABI needs exactly one", n)
	}
	flag, err := r.byte()
	if err != nil {
		return nil, err
	}
	if flag > 1 {
		return nil, fmt.Errorf("memory flags %#x (shared or 64-bit memory) are not supported", flag)
	}
	lo, err := r.u32()
	if err != nil {
		return nil, err
	}
	hi := maxPages
	if flag == 1 {
		if hi, err = r.u32(); err != nil {
			return nil, err
		}
		hi = min(hi, maxPages)
	}
	if !r.eof() {
		return nil, errMalformed
	}
	if lo > maxPages {
		return nil, fmt.Errorf("module needs %d KiB of initial memory, over the plugin's limit of %d KiB",
			uint64(lo)*64, uint64(maxPages)*64)
	}
	if lo > hi {
		return nil, fmt.Errorf("memory minimum %d pages over maximum %d", lo, hi)
	}
	out := appendU32(nil, 1)
	out = append(out, 0x01)
	out = appendU32(out, lo)
	return appendU32(out, hi), nil
}

func insertSection(secs []section, s section) []section {
	at := len(secs)
	for i, x := range secs {
		if x.id != secCustom && sectionRank(x.id) > sectionRank(s.id) {
			at = i
			break
		}
	}
	secs = append(secs, section{})
	copy(secs[at+1:], secs[at:])
	secs[at] = s
	return secs
}

// globals are the indices of the globals the instrumenter adds.
type globals struct{ fuel, grow, trip uint32 }

// appendExports adds the instrumenter's globals to the export section and
// refuses guest exports in the reserved namespace.
func appendExports(p []byte, g globals) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	entries := r.pos
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(name, abi.ReservedPrefix) {
			return nil, fmt.Errorf("export %q uses the reserved prefix %q", name, abi.ReservedPrefix)
		}
		if _, err := r.byte(); err != nil {
			return nil, err
		}
		if _, err := r.u32(); err != nil {
			return nil, err
		}
	}
	if !r.eof() {
		return nil, errMalformed
	}
	out := appendU32(make([]byte, 0, len(p)+60), n+3)
	out = append(out, p[entries:]...)
	for _, e := range []struct {
		name string
		idx  uint32
	}{{fuelExport, g.fuel}, {growExport, g.grow}, {tripExport, g.trip}} {
		out = appendName(out, e.name)
		out = append(out, 0x03)
		out = appendU32(out, e.idx)
	}
	return out, nil
}

func isDebugSection(p []byte) bool {
	r := &reader{b: p}
	name, err := r.name()
	return err == nil && strings.HasPrefix(name, ".debug_")
}
