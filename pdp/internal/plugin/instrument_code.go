package plugin

import "fmt"

// rewriteCode instruments every function body of a code section payload:
// a fuel check at entry and at every loop head, and a record of the result
// of every memory.grow.
func rewriteCode(p []byte, g globals) ([]byte, error) {
	r := &reader{b: p}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	check := fuelCheck(g)
	after := growRecord(g.grow)
	out := appendU32(make([]byte, 0, len(p)+len(p)/8), n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		b, err := r.bytes(int(size))
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		body, err = rewriteBody(body[:0], b, check, after)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !r.eof() {
		return nil, errMalformed
	}
	return out, nil
}

// yieldEvery is the number of fuel units between two yields: a guest that
// runs long calls memory.grow(0) every yieldEvery units, which wazero
// serves in Go code, so the goroutine reaches a preemption point and a
// stop-the-world (GC) or the watchdog is not held up by a spinning guest.
const yieldEvery = 1 << 14

// fuelCheck is:
//
//	fuel--
//	if fuel&(yieldEvery-1) == 0 {
//		if fuel == 0 { trip = 1; unreachable }
//		memory.grow(0) // yield to Go
//	}
//
// The common path is one load, a subtraction, a store, an and and a
// branch. To stop a call the watchdog stores 1: the next check traps.
func fuelCheck(g globals) []byte {
	f := appendU32(nil, g.fuel)
	b := append([]byte{0x23}, f...)       // global.get fuel
	b = append(b, 0x41, 0x01, 0x6b, 0x24) // i32.const 1; i32.sub; global.set fuel
	b = append(b, f...)
	b = append(b, 0x23) // global.get fuel
	b = append(b, f...)
	b = append(b, 0x41, 0xff, 0xff, 0x00, 0x71, 0x45) // i32.const 16383; i32.and; i32.eqz
	b = append(b, 0x04, 0x40, 0x23)                   // if; global.get fuel
	b = append(b, f...)
	b = append(b, 0x45, 0x04, 0x40, 0x41, 0x01, 0x24) // i32.eqz; if; i32.const 1; global.set trip
	b = appendU32(b, g.trip)
	b = append(b, 0x00, 0x0b)                   // unreachable; end
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow; drop
	return append(b, 0x0b)                      // end
}

// stopFuel is what the watchdog stores to stop a call.
const stopFuel = 1

// fuelFor returns the value the host stores in the fuel global for a
// budget of n units: n rounded up so that the first yield comes after
// yieldEvery-1 units, not at once; the call traps after that many checks.
func fuelFor(n uint32) uint64 { return uint64(n) | (yieldEvery - 1) }

// growRecord follows memory.grow: global.set g; global.get g.
func growRecord(g uint32) []byte {
	b := append([]byte{0x24}, appendU32(nil, g)...)
	b = append(b, 0x23)
	return appendU32(b, g)
}

// rewriteBody copies one function body (locals and expression) to out,
// inserting check at entry and after every loop header, and after after
// every memory.grow.
func rewriteBody(out, b, check, after []byte) ([]byte, error) {
	r := &reader{b: b}
	groups, err := r.u32()
	if err != nil {
		return nil, err
	}
	for j := uint32(0); j < groups; j++ {
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		if _, err := r.byte(); err != nil {
			return nil, err
		}
	}
	out = append(out, b[:r.pos]...)
	if r.pos < len(b) && b[r.pos] != 0x03 {
		// A body that starts with a loop gets its check from the loop
		// head at once (Go's compiler starts most functions so).
		out = append(out, check...)
	}
	for !r.eof() {
		start := r.pos
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		if err := skipImmediates(r, op); err != nil {
			return nil, fmt.Errorf("opcode %#x at offset %d: %w", op, start, err)
		}
		out = append(out, b[start:r.pos]...)
		switch op {
		case 0x03: // loop
			out = append(out, check...)
		case 0x40: // memory.grow
			out = append(out, after...)
		}
	}
	if len(b) == 0 || b[len(b)-1] != 0x0b {
		return nil, errMalformed
	}
	return out, nil
}

// skipImmediates advances r past the immediates of op.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		return nil // no immediates
	case op >= 0x02 && op <= 0x04: // block, loop, if
		return skipBlockType(r)
	case op == 0x0c, op == 0x0d, op == 0x10, op == 0xd2, op >= 0x20 && op <= 0x26:
		// br, br_if, call, ref.func, local.*, global.*, table.get/set
		_, err := r.u32()
		return err
	case op == 0x0e: // br_table
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := uint64(0); i <= uint64(n); i++ {
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		return nil
	case op == 0x11: // call_indirect: type, table
		return skipU32s(r, 2)
	case op == 0x1c: // select t*
		n, err := r.u32()
		if err != nil {
			return err
		}
		_, err = r.bytes(int(n))
		return err
	case op >= 0x28 && op <= 0x3e: // loads and stores: memarg
		return skipU32s(r, 2)
	case op == 0x3f, op == 0x40: // memory.size, memory.grow: memory index
		_, err := r.u32()
		return err
	case op == 0x41: // i32.const
		return r.skipLEB(5)
	case op == 0x42: // i64.const
		return r.skipLEB(10)
	case op == 0x43: // f32.const
		_, err := r.bytes(4)
		return err
	case op == 0x44: // f64.const
		_, err := r.bytes(8)
		return err
	case op == 0xd0: // ref.null t
		_, err := r.byte()
		return err
	case op == 0xfc:
		return skipMisc(r)
	case op == 0xfd:
		return skipSIMD(r)
	}
	return fmt.Errorf("unsupported opcode %#x", op)
}

func skipU32s(r *reader, n int) error {
	for i := 0; i < n; i++ {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

func skipBlockType(r *reader) error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	switch c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return nil
	}
	r.pos-- // a type index, encoded as a positive s33
	return r.skipLEB(5)
}

// skipMisc skips the 0xFC prefixed instructions (saturating truncation,
// bulk memory, tables).
func skipMisc(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // trunc_sat
		return nil
	case sub == 8: // memory.init data, mem
		return skipU32s(r, 2)
	case sub == 9: // data.drop
		return skipU32s(r, 1)
	case sub == 10: // memory.copy mem, mem
		return skipU32s(r, 2)
	case sub == 11: // memory.fill mem
		return skipU32s(r, 1)
	case sub == 12, sub == 14: // table.init elem, table; table.copy t, t
		return skipU32s(r, 2)
	case sub == 13, sub >= 15 && sub <= 17: // elem.drop, table.grow/size/fill
		return skipU32s(r, 1)
	}
	return fmt.Errorf("unsupported 0xfc instruction %d", sub)
}

// skipSIMD skips the 0xFD prefixed (128-bit SIMD) instructions.
func skipSIMD(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads, stores, load_zero: memarg
		return skipU32s(r, 2)
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		_, err := r.bytes(16)
		return err
	case sub >= 21 && sub <= 34: // extract / replace lane
		_, err := r.byte()
		return err
	case sub >= 84 && sub <= 91: // load / store lane: memarg, lane
		if err := skipU32s(r, 2); err != nil {
			return err
		}
		_, err := r.byte()
		return err
	case sub <= 255:
		return nil
	}
	return fmt.Errorf("unsupported SIMD instruction %d", sub)
}
