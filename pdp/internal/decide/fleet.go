package decide

import (
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// FleetVelocity counts the decisions of every sidecar of a fleet (see
// pdp/internal/fleet). Observe adds this decision and raises the counts in out,
// already filled from the local windows, to the fleet's where they are
// higher; it never waits for the network.
type FleetVelocity interface {
	Observe(now time.Time, uid, device, ip string, money bool, out *pdp.Velocity)
}
