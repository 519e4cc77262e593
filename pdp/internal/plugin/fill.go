package plugin

import (
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// FillRequest sets the features that come from the request itself: amount,
// stage, account_age_days, device_new (when the caller said), ip_foreign,
// cross_border, vip, hours_since_sensitive_change, category_code,
// payment_method_code and hour_of_day (of now, UTC). It does not allocate.
func FillRequest(f *Features, r *pdp.Request, now time.Time) {
	f[abi.Stage] = float64(r.Stage)
	f[abi.Amount] = 0
	if r.HasTxn {
		f[abi.Amount] = r.Txn.Amount
		f[abi.CategoryCode] = float64(abi.CategoryCodeOf(r.Txn.Category))
		f[abi.PaymentMethodCode] = float64(abi.MethodCodeOf(r.Txn.PaymentMethod))
	}
	home := r.Account.HomeCountry
	f[abi.IPForeign] = b2f(home != "" && r.Device.IPCountry != "" && r.Device.IPCountry != home)
	f[abi.CrossBorder] = b2f(r.HasTxn && home != "" && r.Txn.ShipCountry != "" && r.Txn.ShipCountry != home)
	f[abi.VIP] = b2f(r.Account.VIP.IsTrue())
	if r.Device.New != pdp.Unset {
		f[abi.DeviceNew] = b2f(r.Device.New.IsTrue())
	}
	f[abi.AccountAgeDays] = -1
	if !r.Account.CreatedAt.IsZero() {
		f[abi.AccountAgeDays] = max(0, now.Sub(r.Account.CreatedAt).Hours()/24)
	}
	f[abi.HoursSinceSensitiveChange] = -1
	for _, c := range r.Account.RecentChanges {
		if h := max(0, now.Sub(c.At).Hours()); f[abi.HoursSinceSensitiveChange] < 0 || h < f[abi.HoursSinceSensitiveChange] {
			f[abi.HoursSinceSensitiveChange] = h
		}
	}
	f[abi.HourOfDay] = float64(now.UTC().Hour())
}

// FillVelocity sets the velocity features from what the sidecar counted.
func FillVelocity(f *Features, v *pdp.Velocity) {
	f[abi.UIDCount1m] = float64(v.UID.Count1m)
	f[abi.UIDCount1h] = float64(v.UID.Count1h)
	f[abi.UIDCount24h] = float64(v.UID.Count24h)
	f[abi.UIDAmount1m] = v.UID.Amount1m
	f[abi.UIDAmount1h] = v.UID.Amount1h
	f[abi.UIDAmount24h] = v.UID.Amount24h
	f[abi.UIDDevices1h] = float64(v.UIDDevices1h)
	f[abi.DeviceUIDs1h] = float64(v.DeviceUIDs1h)
	f[abi.DeviceCount1h] = float64(v.Device.Count1h + v.Device.Logins1h)
	f[abi.IPCount1h] = float64(v.IP.Count1h + v.IP.Logins1h)
	f[abi.PaymentFailures1h] = float64(v.Failures.Payment1h)
	f[abi.PaymentFailures24h] = float64(v.Failures.Payment24h)
	f[abi.PINFailures1h] = float64(v.Failures.PIN1h)
	f[abi.LoginFailures1h] = float64(v.Failures.Login1h)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
