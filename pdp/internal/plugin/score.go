package plugin

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// Result is one plugin's answer for one decision.
type Result struct {
	// Plugin is the manifest name: the key under input.scores.
	Plugin string
	// Score is in [0, 1]; valid only when Err is nil.
	Score float64
	// Mask is the reason bitmask the plugin returned.
	Mask uint64
	// Reasons are the manifest's reason codes named by Mask. The strings
	// are the manifest's own; the slice reuses the capacity of the Result
	// it is written over, so a caller that reuses its []Result scores
	// without allocating.
	Reasons []string
	// Err is nil or a FaultKind.
	Err error
	// FailClosed is set when Err is not nil and the plugin's failure mode
	// is closed: the decision must fall back to step_up. An error with
	// FailClosed unset comes from an open-mode plugin: ignore the plugin.
	FailClosed bool
}

// AnyFailClosed reports whether a closed-mode plugin failed in rs, which
// means the decision falls back to step_up.
func AnyFailClosed(rs []Result) bool {
	for i := range rs {
		if rs[i].FailClosed {
			return true
		}
	}
	return false
}

// plugin is one loaded plugin of a set.
type plugin struct {
	name      string
	manifest  *Manifest
	mode      FailureMode
	feats     []abi.Feature
	reasons   []string
	validMask uint64
	budget    time.Duration
	fuel      uint32
	memLimit  int64
	hasInit   bool
	code      wazero.CompiledModule
	modCfg    wazero.ModuleConfig
	sum       string // sha256 of the module as shipped

	set  *Set
	pool pool
	q    quarantine
	ctr  *counters
}

// score runs the plugin on f for src and fills r. It does not allocate
// when r's Reasons has enough capacity.
func (p *plugin) score(f *Features, src Source, r *Result) {
	reasons := r.Reasons[:0]
	*r = Result{Plugin: p.name}
	if p.quarantined() {
		p.fail(r, FaultQuarantined, src)
		r.Reasons = reasons
		return
	}
	in := p.acquire()
	if in == nil {
		p.fail(r, FaultUnavailable, src)
		r.Reasons = reasons
		return
	}
	p.ctr.calls.Add(1)
	score, mask, fk := p.call(in, f)
	if fk != 0 {
		p.discard(in)
		p.fail(r, fk, src)
		r.Reasons = reasons
		return
	}
	p.release(in)
	p.succeeded()
	r.Score, r.Mask = score, mask
	for m := mask; m != 0; m &= m - 1 {
		reasons = append(reasons, p.reasons[bits.TrailingZeros64(m)])
	}
	r.Reasons = reasons
}

func (p *plugin) fail(r *Result, k FaultKind, src Source) {
	r.Err = k
	r.FailClosed = p.mode == FailClosed
	p.ctr.faults[k].Add(1)
	if k.counts() {
		p.failed(k, src)
	}
}

// call writes the declared features into the instance's buffer, calls the
// score export and checks what it returned. A non-zero FaultKind means the
// instance must be discarded.
func (p *plugin) call(in *instance, f *Features) (score float64, mask uint64, _ FaultKind) {
	view, ok := in.mem.Read(in.buf, abi.BufferSize)
	if !ok {
		return 0, 0, FaultMemory // memory never shrinks; not reached
	}
	for _, i := range p.feats {
		binary.LittleEndian.PutUint64(view[8*int(i):], math.Float64bits(f[i]))
	}
	binary.LittleEndian.PutUint64(view[abi.ReasonsOffset:], 0)

	if err, _ := in.call(p.set.ctx, in.score, p.fuel); err != nil {
		return 0, 0, classify(err, in.trip.Get() != 0, uint32(in.grow.Get()) == 0xffffffff)
	}
	score = math.Float64frombits(in.stack[0])
	if view, ok = in.mem.Read(in.buf, abi.BufferSize); !ok {
		return 0, 0, FaultMemory
	}
	mask = binary.LittleEndian.Uint64(view[abi.ReasonsOffset:])
	if score == abi.ScoreError {
		return 0, 0, FaultTrap
	}
	if !(score >= 0 && score <= 1) || mask&^p.validMask != 0 {
		return 0, 0, FaultGarbage
	}
	return score, mask, 0
}
