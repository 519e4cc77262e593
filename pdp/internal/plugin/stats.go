package plugin

import (
	"sync/atomic"
	"time"
)

// Stats are one plugin's counters, for the integrator to export (e.g. to
// /metrics). Counters are cumulative over the host's life, across reloads.
type Stats struct {
	Plugin      string
	Version     string
	FailureMode FailureMode
	// Calls counts calls into the plugin (not those skipped while
	// quarantined or unavailable).
	Calls uint64
	// Faults counts results by fault kind, indexed by FaultKind (index 0
	// unused); FaultQuarantined and FaultUnavailable count skipped calls.
	Faults [numFaultKinds]uint64
	// Replaced counts instances discarded after a fault and replaced.
	Replaced uint64
	// Quarantines counts how often the plugin entered quarantine.
	Quarantines uint64
	// QuarantinedUntil is when the current quarantine ends; zero when the
	// plugin is not quarantined.
	QuarantinedUntil time.Time
	// Instances is the number of live instances in the plugin's pool.
	Instances int
}

// Fault returns the count of one fault kind.
func (s *Stats) Fault(k FaultKind) uint64 {
	if k < numFaultKinds {
		return s.Faults[k]
	}
	return 0
}

// FaultKinds lists the kinds in Stats.Faults, for exporters.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultTrap, FaultTimeout, FaultGarbage, FaultMemory, FaultQuarantined, FaultUnavailable}
}

// counters are the atomic counters behind Stats, shared by every set the
// host loads so that they survive reloads.
type counters struct {
	calls       atomic.Uint64
	faults      [numFaultKinds]atomic.Uint64
	replaced    atomic.Uint64
	quarantines atomic.Uint64
}

func (c *counters) snapshot(s *Stats) {
	s.Calls = c.calls.Load()
	for i := range c.faults {
		s.Faults[i] = c.faults[i].Load()
	}
	s.Replaced = c.replaced.Load()
	s.Quarantines = c.quarantines.Load()
}
