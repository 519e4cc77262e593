package bench

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/riskpdp/riskpdp/pdp/sim"
)

// opaFacts is what the sidecar would know of the account: its home
// country and age as the caller sends them, whether it is on the VIP list
// and whether the device is one it has used.
type opaFacts struct {
	home        string
	createdAt   time.Time
	vip         bool
	deviceKnown bool
}

// policyRates are the reference policy's rates (policies/riskpdp/config):
// what one unit of each currency is worth in its base currency, CNY. The
// simulator keeps them (a test of each keeps them equal to the data).
var policyRates = sim.Rates

// opaInput is the input document OPA gets for wr: the request as sent,
// plus what the sidecar would have added itself, because `opa run
// --server` has no state, velocity windows or plugins. A service using
// OPA as its PDP has to compute these and send them; here they are
// representative values: derived facts computed exactly as the sidecar
// does (pdp/internal/request derive), reputation from the same block list the
// sidecar's state holds, quiet velocity windows, an account in good
// standing and plugin scores that are low for ordinary traffic and high
// where the risk pattern would make the plugins fire. So OPA evaluates
// the same rules over an input of the same shape and about the same size;
// what it cannot do is the work behind those values (state reads,
// velocity updates, plugin calls, obligations, decision log): that work
// is the sidecar's alone and is counted against it.
func opaInput(c *MixConfig, wr *wireRequest, a opaFacts, risk string) map[string]any {
	in := map[string]any{
		"request_id": wr.RequestID,
		"stage":      wr.Stage,
		"uid":        wr.UID,
		"device":     wr.Device,
		"account":    wr.Account,
	}
	if wr.Txn != nil {
		in["txn"] = wr.Txn
	}
	if wr.Context != nil {
		in["context"] = wr.Context
	}
	money := wr.Stage != "login"
	outflow := wr.Stage == "payment" || wr.Stage == "withdrawal"
	ageDays := math.Max(0, math.Floor(c.Now.Sub(a.createdAt).Hours()/24))
	sensitive := -1.0
	for _, ch := range wr.Account.RecentChanges {
		at, err := time.Parse(time.RFC3339, ch.At)
		if err == nil {
			h := math.Round(math.Max(0, c.Now.Sub(at).Hours())*100) / 100
			if sensitive < 0 || h < sensitive {
				sensitive = h
			}
		}
	}
	crossBorder := wr.Txn != nil && wr.Txn.ShipCountry != "" && wr.Txn.ShipCountry != a.home
	amount := 0.0 // in the policy's base currency, as the sidecar hands it over
	if wr.Txn != nil {
		amount = round2(wr.Txn.Amount * policyRates[wr.Txn.Currency])
	}
	in["derived"] = map[string]any{
		"account_age_days":       ageDays,
		"amount_base":            amount,
		"sensitive_change_hours": sensitive,
		"ip_foreign":             wr.Device.IPCountry != a.home,
		"ip_domestic":            wr.Device.IPCountry == a.home,
		"cross_border":           crossBorder,
		"device_known":           a.deviceKnown,
		"destination_new":        wr.Stage == "withdrawal" && (wr.Txn == nil || wr.Txn.DestinationNew == nil || *wr.Txn.DestinationNew),
		"money":                  money,
		"outflow":                outflow,
		"vip":                    a.vip,
	}
	rep := func(blocked bool) map[string]any {
		return map[string]any{"blocked": blocked, "allowed": false, "vip": false}
	}
	in["reputation"] = map[string]any{
		"uid":      map[string]any{"blocked": false, "allowed": false, "vip": a.vip},
		"device":   rep(risk == "blocklisted_device"),
		"ip":       rep(false),
		"card_bin": rep(false),
	}
	h := fnv.New64a()
	h.Write([]byte(wr.RequestID))
	x := h.Sum64()
	n1h := 1 + int(x%4)
	n24h := n1h + int((x>>8)%12)
	window := func(n1m, n1h, n24h int) map[string]any {
		return map[string]any{
			"count_1m": n1m, "count_1h": n1h, "count_24h": n24h,
			"amount_1m": amount, "amount_1h": round2(amount * float64(n1h) * 0.6),
			"amount_24h": round2(amount * float64(n24h) * 0.5), "logins_1h": 1,
		}
	}
	in["velocity"] = map[string]any{
		"uid":            window(1, n1h, n24h),
		"device":         window(1, n1h, n24h),
		"ip":             window(1, n1h+1, n24h+2),
		"uid_devices_1h": 1,
		"device_uids_1h": 1,
		"spent_24h":      round2(amount * float64((x>>16)%3)),
		"failures": map[string]any{
			"payment_1h": 0, "payment_24h": int((x >> 20) % 2), "pin_1h": 0, "pin_24h": 0,
			"login_1h": 0, "login_24h": 0,
		},
	}
	in["account_state"] = map[string]any{
		"frozen": false, "stage_restricted": false, "restricted": []string{}, "probation": false,
		"ever_frozen": false, "known_devices": 1 + int((x>>24)%2),
	}
	score := func(s float64, reasons ...string) map[string]any {
		if reasons == nil {
			reasons = []string{}
		}
		return map[string]any{"score": s, "reasons": reasons}
	}
	base := float64((x>>32)%100) / 1000 // 0 – 0.099
	scores := map[string]any{
		"habit_deviation": score(base),
		"device_risk":     score(base / 2),
		"fraud_model":     score(base),
		"velocity_burst":  score(0),
	}
	switch risk {
	case "new_device_foreign_ip":
		scores["device_risk"] = score(0.75, "new_device_foreign_ip")
		scores["fraud_model"] = score(0.55, "new_device_foreign_ip")
	case "large_amount", "extreme_amount":
		scores["habit_deviation"] = score(0.85, "amount_far_above_habit")
		scores["fraud_model"] = score(0.6, "amount_vs_habit")
	case "blocklisted_device":
		scores["device_risk"] = score(0.9, "blocked_device")
	case "sensitive_change":
		scores["fraud_model"] = score(0.65, "recent_sensitive_change")
	}
	in["scores"] = scores
	return in
}
