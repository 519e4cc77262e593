package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// instance is one instantiated module in a plugin's pool. Only the
// goroutine that acquired it calls into it; the watchdog reads run and may
// zero the fuel.
type instance struct {
	mod   api.Module
	score api.Function
	fuel  api.MutableGlobal
	grow  api.Global
	trip  api.Global
	mem   api.Memory
	buf   uint32 // address of the exchange buffer
	stack [1]uint64

	// run is the call generation: odd while a call runs, even when idle.
	// The watchdog sets killBit on a running generation it stops; the
	// caller's closing compare-and-swap then fails and it discards the
	// instance.
	run atomic.Uint64
	// budget is the time the current phase may take (init or call), in
	// nanoseconds.
	budget atomic.Int64

	// Owned by the watchdog goroutine.
	wdGen   uint64
	wdSince int64
}

const killBit = 1 << 63

// initFuel is the fuel for _initialize and the other set-up calls. The Go
// runtime's initialization uses about 10^5; the watchdog still bounds it
// by Config.InitTimeout.
const initFuel = 1 << 30

// call runs fn with the given fuel under the watchdog. killed reports that
// the watchdog marked the call as over its budget.
//
// A marked call that still returned normally keeps its result: it finished
// before reaching a fuel check, and the delay may well have been the host's
// (descheduling, a GC pause) rather than the guest's. The instance stays
// usable: the next call sets the fuel again, after the watchdog's last
// store, since both happen under the pool's mutex.
func (in *instance) call(ctx context.Context, fn api.Function, fuel uint32) (err error, killed bool) {
	in.fuel.Set(fuelFor(fuel))
	g := in.run.Load() + 1
	in.run.Store(g)
	err = fn.CallWithStack(ctx, in.stack[:])
	if in.run.CompareAndSwap(g, g+1) {
		return err, false
	}
	if err == nil {
		in.run.Store(g + 1)
		return nil, false
	}
	return err, true
}

// newInstance instantiates p's module and runs its set-up: _initialize,
// the version check and the buffer lookup. The instance is registered with
// the pool (and so the watchdog) before any guest code runs.
func (p *plugin) newInstance(ctx context.Context) (_ *instance, err error) {
	mod, err := p.set.rt.InstantiateModule(ctx, p.code, p.modCfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	in := &instance{
		mod:   mod,
		score: mod.ExportedFunction(abi.ScoreExport),
		mem:   mod.ExportedMemory(abi.MemoryExport),
		grow:  mod.ExportedGlobal(growExport),
		trip:  mod.ExportedGlobal(tripExport),
	}
	in.fuel, _ = mod.ExportedGlobal(fuelExport).(api.MutableGlobal)
	if in.score == nil || in.mem == nil || in.grow == nil || in.trip == nil || in.fuel == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("instance lacks the ABI exports") // checked at load; not reached
	}
	in.budget.Store(int64(p.set.cfg.InitTimeout))
	p.pool.register(in)
	defer func() {
		if err != nil {
			p.pool.unregister(in)
			_ = mod.Close(ctx)
		}
	}()

	setup := func(name string) (uint64, error) {
		fn := mod.ExportedFunction(name)
		if err, killed := in.call(ctx, fn, initFuel); err != nil || killed {
			if killed {
				return 0, fmt.Errorf("%s: ran past the init timeout of %s", name, p.set.cfg.InitTimeout)
			}
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return in.stack[0], nil
	}
	if p.hasInit {
		if _, err := setup(abi.InitializeExport); err != nil {
			return nil, err
		}
	}
	v, err := setup(abi.VersionExport)
	if err != nil {
		return nil, err
	}
	if v := int32(v); v != abi.Version {
		return nil, fmt.Errorf("%s returned %d: this host implements ABI version %d", abi.VersionExport, v, abi.Version)
	}
	b, err := setup(abi.BufferExport)
	if err != nil {
		return nil, err
	}
	in.buf = uint32(b)
	if in.buf%8 != 0 || uint64(in.buf)+abi.BufferSize > uint64(in.mem.Size()) {
		return nil, fmt.Errorf("%s returned %#x: want an 8-byte aligned address of %d bytes inside memory (%d bytes)",
			abi.BufferExport, in.buf, abi.BufferSize, in.mem.Size())
	}
	// Slots the manifest does not declare stay zero for the instance's life.
	view, _ := in.mem.Read(in.buf, abi.BufferSize)
	clear(view)
	in.budget.Store(int64(p.budget))
	return in, nil
}
