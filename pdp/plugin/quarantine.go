package plugin

import (
	"sync"
	"sync/atomic"
	"time"
)

// quarantine tracks a plugin's consecutive faults. After
// Config.QuarantineAfter of them the plugin is not called for a back-off
// that starts at QuarantineBase and doubles with every quarantine that
// follows without a successful call in between, up to QuarantineMax. When
// the back-off ends, calls go through again; one more fault re-enters
// quarantine, a success clears the record.
type quarantine struct {
	until       atomic.Int64 // Unix nanoseconds; 0 when not quarantined
	consecutive atomic.Uint32
	mu          sync.Mutex
	level       uint // quarantines since the last success, under mu
}

// quarantined reports whether the plugin must not be called now. It reads
// the clock only while a quarantine is set.
func (p *plugin) quarantined() bool {
	u := p.q.until.Load()
	if u == 0 {
		return false
	}
	if time.Now().UnixNano() < u {
		return true
	}
	p.q.until.CompareAndSwap(u, 0)
	return false
}

func (p *plugin) succeeded() {
	if p.q.consecutive.Load() == 0 {
		return
	}
	p.q.consecutive.Store(0)
	p.q.mu.Lock()
	p.q.level = 0
	p.q.mu.Unlock()
}

func (p *plugin) failed(k FaultKind) {
	cfg := p.set.cfg
	n := p.q.consecutive.Add(1)
	if n < uint32(cfg.QuarantineAfter) {
		return
	}
	p.q.mu.Lock()
	defer p.q.mu.Unlock()
	if p.q.until.Load() != 0 {
		return // a concurrent fault got here first
	}
	d := cfg.QuarantineBase
	for i := uint(0); i < p.q.level && d < cfg.QuarantineMax; i++ {
		d *= 2
	}
	d = min(d, cfg.QuarantineMax)
	p.q.level++
	p.q.until.Store(time.Now().Add(d).UnixNano())
	// One more fault after the back-off re-enters quarantine.
	p.q.consecutive.Store(uint32(cfg.QuarantineAfter) - 1)
	p.ctr.quarantines.Add(1)
	cfg.Logger.Warn("plugin quarantined", "plugin", p.name, "last_fault", k.String(),
		"consecutive_faults", n, "for", d)
}

// quarantinedUntil returns the end of the current quarantine, or zero.
func (p *plugin) quarantinedUntil() time.Time {
	if u := p.q.until.Load(); u != 0 && time.Now().UnixNano() < u {
		return time.Unix(0, u)
	}
	return time.Time{}
}
