package plugin

import (
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

func TestStageCodesMatchDomain(t *testing.T) {
	for _, s := range pdp.Stages {
		if abi.StageCode(s.String()) != int(s) {
			t.Errorf("stage %s: abi code %d, pdp %d", s, abi.StageCode(s.String()), s)
		}
	}
}

func TestFill(t *testing.T) {
	now := time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)
	r := &pdp.Request{
		Stage:  pdp.StagePayment,
		Device: pdp.Device{IPCountry: "VN", New: pdp.True},
		Txn:    pdp.Txn{Amount: 4999, Category: "gift_card", PaymentMethod: "virtual_card", ShipCountry: "SG"},
		HasTxn: true,
		Account: pdp.Account{HomeCountry: "SG", CreatedAt: now.Add(-10 * 24 * time.Hour), VIP: pdp.False,
			RecentChanges: []pdp.AccountChange{{Kind: "password", At: now.Add(-3 * time.Hour)},
				{Kind: "phone", At: now.Add(-30 * time.Hour)}}},
	}
	v := &pdp.Velocity{UID: pdp.WindowCounts{Count1m: 6, Count1h: 9, Amount1m: 8000}, DeviceUIDs1h: 4,
		Failures: pdp.Failures{PIN1h: 3}}
	f := NewFeatures()
	FillRequest(&f, r, now)
	FillVelocity(&f, v)
	allocs := testing.AllocsPerRun(100, func() { FillRequest(&f, r, now); FillVelocity(&f, v) })
	want := map[abi.Feature]float64{abi.Stage: 3, abi.Amount: 4999, abi.CategoryCode: abi.CategoryGiftCard,
		abi.PaymentMethodCode: abi.MethodVirtualCard, abi.IPForeign: 1, abi.CrossBorder: 0, abi.DeviceNew: 1,
		abi.AccountAgeDays: 10, abi.HoursSinceSensitiveChange: 3, abi.HourOfDay: 22, abi.UIDCount1m: 6,
		abi.UIDAmount1m: 8000, abi.DeviceUIDs1h: 4, abi.PINFailures1h: 3, abi.VIP: 0}
	for k, x := range want {
		if f[k] != x {
			t.Errorf("%s = %v, want %v", k, f[k], x)
		}
	}
	if allocs != 0 {
		t.Errorf("Fill allocates %v times", allocs)
	}
}
