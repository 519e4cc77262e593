package plugin

import "strings"

// FaultKind classifies why a plugin produced no score. It implements error,
// so a Result's Err is a FaultKind and errors.Is(err, FaultTimeout) works;
// converting it to an error does not allocate.
type FaultKind uint8

// Fault kinds. The first four are faults of the plugin and count towards
// quarantine; the last two say the plugin was not called.
const (
	// FaultTrap: the guest trapped (unreachable, integer division by zero,
	// stack overflow, a Go panic, proc_exit...).
	FaultTrap FaultKind = iota + 1
	// FaultTimeout: the call ran past its time budget (stopped by the
	// watchdog) or ran out of fuel.
	FaultTimeout
	// FaultGarbage: the score was NaN, infinite or outside [0, 1], or the
	// reason mask had bits beyond the manifest's reasons.
	FaultGarbage
	// FaultMemory: an out-of-bounds memory access, or a trap after the
	// guest's memory could not grow past its cap.
	FaultMemory
	// FaultQuarantined: the plugin failed repeatedly and is not called
	// until its back-off has passed.
	FaultQuarantined
	// FaultUnavailable: no instance could be had (instantiation failed or
	// the set is closed).
	FaultUnavailable

	numFaultKinds
)

var faultNames = [numFaultKinds]string{"", "trap", "timeout", "garbage", "memory", "quarantined", "unavailable"}

// String returns the kind's name, as used in stats and logs.
func (k FaultKind) String() string {
	if k < numFaultKinds {
		return faultNames[k]
	}
	return "fault?"
}

func (k FaultKind) Error() string { return "plugin fault: " + k.String() }

// counts reports whether the kind is the plugin's fault (and so counts
// towards quarantine).
func (k FaultKind) counts() bool { return k >= FaultTrap && k <= FaultMemory }

// classify maps a failed call (err not nil) to a fault kind. tripped is
// set when the fuel check stopped the guest (fuel exhausted, or stopped by
// the watchdog), grewNot when the guest's last memory.grow was refused at
// the cap.
//
// Whether the watchdog marked the call does not matter: time spent in
// wazero after the guest trapped (building the error and its stack trace
// takes up to milliseconds) counts against the budget, so a guest fault
// keeps its own kind, and a stop by the watchdog shows as tripped.
func classify(err error, tripped, grewNot bool) FaultKind {
	switch {
	case grewNot:
		return FaultMemory // whatever followed, running out of memory came first
	case tripped:
		return FaultTimeout
	case strings.Contains(err.Error(), "out of bounds memory access"):
		return FaultMemory
	}
	return FaultTrap
}
