package plugin

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// tinyModule assembles a small ABI v1 module by hand, so load-time checks
// and the instrumenter can be tested without a toolchain.
type tinyModule struct {
	version   int32  // what riskpdp_abi_version returns
	score     []byte // body of riskpdp_score without the final end; default returns 0.5
	noExport  string // an export to leave out
	extraExp  string // an additional export name (of the score function)
	importEnv bool   // import env.host_fn: () -> ()
	importMem bool   // import env.memory instead of defining one
	memMax    int    // memory maximum in pages; 0 means none
	memMin    int    // memory minimum in pages; default 1
}

// Instructions for score bodies.
var (
	bodyLoopForever = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x44, 0, 0, 0, 0, 0, 0, 0, 0} // loop br 0 end; f64.const 0
	bodyTrap        = []byte{0x00}                                                       // unreachable
)

func f64Const(x float64) []byte {
	b := []byte{0x44, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint64(b[1:], math.Float64bits(x))
	return b
}

func (t tinyModule) bytes() []byte {
	sec := func(id byte, payload []byte) []byte {
		return append(appendU32([]byte{id}, uint32(len(payload))), payload...)
	}
	vec := func(items ...[]byte) []byte {
		b := appendU32(nil, uint32(len(items)))
		for _, it := range items {
			b = append(b, it...)
		}
		return b
	}
	out := append([]byte{}, wasmHeader...)
	// Types: 0 () -> i32, 1 () -> f64, 2 () -> ().
	out = append(out, sec(secType, vec(
		[]byte{0x60, 0x00, 0x01, 0x7f},
		[]byte{0x60, 0x00, 0x01, 0x7c},
		[]byte{0x60, 0x00, 0x00}))...)
	var imports [][]byte
	if t.importEnv {
		imports = append(imports, append(appendName(appendName(nil, "env"), "host_fn"), 0x00, 0x02))
	}
	if t.importMem {
		imports = append(imports, append(appendName(appendName(nil, "env"), "memory"), 0x02, 0x00, 0x01))
	}
	nimp := uint32(0)
	if t.importEnv {
		nimp = 1
	}
	if len(imports) > 0 {
		out = append(out, sec(secImport, vec(imports...))...)
	}
	out = append(out, sec(secFunction, vec([]byte{0x00}, []byte{0x00}, []byte{0x01}))...)
	if !t.importMem {
		lim := []byte{0x00}
		lim = appendU32(lim, uint32(max(t.memMin, 1)))
		if t.memMax > 0 {
			lim[0] = 0x01
			lim = appendU32(lim, uint32(t.memMax))
		}
		out = append(out, sec(secMemory, vec(lim))...)
	}
	var exports [][]byte
	for i, name := range []string{"riskpdp_abi_version", "riskpdp_buffer", "riskpdp_score"} {
		if name != t.noExport {
			exports = append(exports, append(appendName(nil, name), 0x00, byte(nimp+uint32(i))))
		}
	}
	if t.noExport != "memory" {
		exports = append(exports, append(appendName(nil, "memory"), 0x02, 0x00))
	}
	if t.extraExp != "" {
		exports = append(exports, append(appendName(nil, t.extraExp), 0x00, byte(nimp+2)))
	}
	out = append(out, sec(secExport, vec(exports...))...)
	body := func(code []byte) []byte {
		b := append([]byte{0x00}, code...) // no locals
		b = append(b, 0x0b)
		return append(appendU32(nil, uint32(len(b))), b...)
	}
	score := t.score
	if score == nil {
		score = f64Const(0.5)
	}
	version := appendU32([]byte{0x41}, uint32(t.version)) // i32.const (small positive values only)
	out = append(out, sec(secCode, vec(
		body(version), body([]byte{0x41, 0x80, 0x08}), body(score)))...) // buffer at 1024
	return out
}

// writeTiny writes a tiny module and a manifest for it into a new dir.
func writeTiny(tb testing.TB, t tinyModule, manifest string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tiny.wasm"), t.bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny.yaml"), []byte(manifest), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

const tinyManifest = `name: tiny
version: 1.0.0
abi: 1
features: [amount]
reasons: [a, b]
failure_mode: closed
`
