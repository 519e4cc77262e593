package plugin

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/backoff"
)

// Source is who a scoring call is for: the request's account and device.
// Quarantine counts faults by source, so that one caller cannot switch a
// plugin off for everyone.
type Source struct {
	UID, Device string
}

// quarantine tracks a plugin's faults since its last successful call.
// Once they come from Config.QuarantineAfter distinct accounts and as many
// distinct devices (a request without a device counts as one device), the
// plugin is not called for a back-off that starts at QuarantineBase and
// doubles with every quarantine that follows without a successful call in
// between, up to QuarantineMax. Faults a single account or device provokes
// (a crafted request that makes the plugin trap) never quarantine it for
// everyone. When the back-off ends, calls go through again; one more fault
// from an account and a device not yet counted re-enters quarantine, and a
// success clears the record.
type quarantine struct {
	until  atomic.Int64 // Unix nanoseconds; 0 when not quarantined
	faults atomic.Uint32
	mu     sync.Mutex
	level  uint // quarantines since the last success, under mu
	// wait gives the next quarantine's length (QuarantineBase doubling
	// up to QuarantineMax), under mu; nil until the first quarantine.
	wait *backoff.Backoff
	// uids and devices are hashes of the distinct sources of the faults
	// since the last success (at most QuarantineAfter each), under mu.
	uids, devices []uint64
}

// sourceSeed keys the source hashes (a process-wide random seed).
var sourceSeed = maphash.MakeSeed()

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
	if p.q.faults.Load() == 0 {
		return
	}
	p.q.faults.Store(0)
	p.q.mu.Lock()
	p.q.level = 0
	if p.q.wait != nil {
		p.q.wait.Reset()
	}
	p.q.uids, p.q.devices = p.q.uids[:0], p.q.devices[:0]
	p.q.mu.Unlock()
}

// remember adds h to set, the newest last, keeping the n newest, and
// reports whether h was new to it.
func remember(set *[]uint64, h uint64, n int) bool {
	if slices.Contains(*set, h) {
		return false
	}
	if len(*set) >= n {
		*set = append((*set)[:0], (*set)[len(*set)-n+1:]...)
	}
	*set = append(*set, h)
	return true
}

func (p *plugin) failed(k FaultKind, src Source) {
	cfg := p.set.cfg
	n := p.q.faults.Add(1)
	after := cfg.QuarantineAfter
	p.q.mu.Lock()
	defer p.q.mu.Unlock()
	newUID := remember(&p.q.uids, maphash.String(sourceSeed, src.UID), after)
	newDevice := remember(&p.q.devices, maphash.String(sourceSeed, src.Device), after)
	switch {
	case p.q.until.Load() != 0:
		return // quarantined already (by a concurrent fault)
	case p.q.level > 0:
		// Quarantined before, with no success since: one more fault
		// re-enters, if its account and device are new ones.
		if !newUID || !newDevice {
			return
		}
	case len(p.q.uids) < after || len(p.q.devices) < after:
		return
	}
	if p.q.wait == nil {
		p.q.wait = backoff.Exponential(cfg.QuarantineBase, cfg.QuarantineMax, 2, 0)
	}
	d := p.q.wait.NextBackOff()
	p.q.level++
	p.q.until.Store(time.Now().Add(d).UnixNano())
	p.ctr.quarantines.Add(1)
	cfg.Logger.Warn("plugin quarantined", "plugin", p.name, "last_fault", k.String(),
		"faults", n, "distinct_sources", after, "for", d)
}

// quarantinedUntil returns the end of the current quarantine, or zero.
func (p *plugin) quarantinedUntil() time.Time {
	if u := p.q.until.Load(); u != 0 && time.Now().UnixNano() < u {
		return time.Unix(0, u)
	}
	return time.Time{}
}
