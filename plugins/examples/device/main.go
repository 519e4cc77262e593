//go:build wasip1

// Command device is the device_risk plugin: risk from the device and
// network the operation comes from: a new device with a foreign IP, one
// device used by many UIDs, one UID hopping across devices, repeated
// failures, block lists and threat lists.
//
// Score: the noisy-OR 1 - Π(1 - p) of independent signals, each with its
// own weight (see the table in plugins/README.md).
package main

import (
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
	"github.com/riskpdp/riskpdp/plugins/sdk"
)

// Reasons, in the order of manifest.yaml.
const (
	newDeviceForeignIP sdk.Reasons = 1 << iota
	newDevice
	foreignIP
	sharedDevice
	deviceHopping
	loginFailures
	paymentFailures
	pinFailures
	blockedDevice
	threatIP
	busyIP
)

func init() { sdk.Register(score) }

func score(f *sdk.Features) (float64, sdk.Reasons) {
	var r sdk.Reasons
	q := 1.0 // probability that no signal is real
	add := func(p float64, reason sdk.Reasons) {
		q *= 1 - p
		r |= reason
	}
	isNew, foreign := sdk.Bool(f, abi.DeviceNew), sdk.Bool(f, abi.IPForeign)
	switch {
	case isNew && foreign:
		add(0.5, newDeviceForeignIP)
	case isNew:
		add(0.1, newDevice)
	case foreign:
		add(0.1, foreignIP)
	}
	if n := f[abi.DeviceUIDs1h]; n >= 3 {
		add(0.9*sdk.Saturate(n-2, 3), sharedDevice)
	}
	if n := f[abi.UIDDevices1h]; n >= 3 {
		add(0.6*sdk.Saturate(n-2, 2), deviceHopping)
	}
	if n := f[abi.LoginFailures1h]; n >= 3 {
		add(0.6*sdk.Saturate(n-2, 3), loginFailures)
	}
	if n := f[abi.PaymentFailures1h]; n >= 3 {
		add(0.6*sdk.Saturate(n-2, 3), paymentFailures)
	}
	if n := f[abi.PINFailures1h]; n >= 3 {
		add(0.7*sdk.Saturate(n-2, 2), pinFailures)
	}
	if sdk.Bool(f, abi.DeviceBlocked) {
		add(0.95, blockedDevice)
	}
	if sdk.Bool(f, abi.IPThreat) {
		add(0.6, threatIP)
	}
	if n := f[abi.IPCount1h]; n >= 100 {
		add(0.4*sdk.Saturate(n-50, 200), busyIP)
	}
	return sdk.Clamp01(1 - q), r
}

func main() {}
