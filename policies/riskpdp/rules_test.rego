package riskpdp_test

import data.riskpdp

# Inputs carry the "derived" block the sidecar computes from the request.
derived := {
	"account_age_days": 400, "sensitive_change_hours": -1,
	"amount_base": 0, "ip_foreign": false, "ip_domestic": true, "cross_border": false,
	"device_known": true,
	"money": true, "outflow": true, "vip": false,
}

# payment is a CNY payment: the base currency, so amount_base is the
# amount (the sidecar converts other currencies, see in_currency).
payment(amount) := {
	"stage": "payment", "uid": "u-1",
	"device": {"id": "d-1", "ip": "203.0.113.7", "ip_country": "CN", "new": false},
	"txn": {"id": "t-1", "amount": amount, "currency": "CNY", "category": "daily_goods"},
	"account": {"home_country": "CN"},
	"derived": object.union(derived, {"amount_base": amount}),
}

# in_currency is req for amount of cur, as the sidecar hands it over: the
# amount converted with the policy's rates (a currency without one is
# valued as the most valuable, as the sidecar does).
in_currency(req, cur, amount) := with_derived(with_txn(req, {"currency": cur, "amount": amount}), {"amount_base": amount * rate(cur)})

rate(cur) := data.riskpdp.config.rates[cur]

rate(cur) := max({r | some r in data.riskpdp.config.rates}) if not data.riskpdp.config.rates[cur]

login := {
	"stage": "login", "uid": "u-1",
	"device": {"id": "d-1", "ip": "203.0.113.7", "ip_country": "CN"},
	"derived": object.union(derived, {"money": false, "outflow": false}),
}

with_derived(req, patch) := object.union(req, {"derived": object.union(req.derived, patch)})

with_txn(req, patch) := object.union(req, {"txn": object.union(req.txn, patch)})

step_up_reasons(req) := {r | some r in riskpdp.step_up with input as req}

deny_reasons(req) := {r | some e in riskpdp.deny with input as req; r := reason(e)}

reason(e) := e.reason if is_object(e)

else := e

test_small_daily_payment_is_clean if {
	req := payment(120)
	count(step_up_reasons(req)) == 0
	count(deny_reasons(req)) == 0
}

test_login_from_known_device_is_clean if {
	count(step_up_reasons(login)) == 0
	count(deny_reasons(login)) == 0
}

test_new_device_foreign_ip_steps_up_login if {
	req := object.union(
		with_derived(login, {"ip_foreign": true, "ip_domestic": false, "device_known": false}),
		{"device": {"id": "d-2", "new": true, "ip_country": "SG"}},
	)
	"new_device_foreign_ip" in step_up_reasons(req)
}

test_new_device_home_ip_is_not_flagged if {
	req := object.union(with_derived(login, {"device_known": false}), {"device": {"id": "d-2", "new": true, "ip_country": "CN"}})
	not "new_device_foreign_ip" in step_up_reasons(req)
}

# A missing ip_country or home_country is not evidence of home, and a
# missing device is not a known one: both step up.
test_unknown_location_or_device_is_not_evidence_of_safety if {
	"new_device_foreign_ip" in step_up_reasons(with_derived(login, {"device_known": false, "ip_domestic": false}))
	"new_device_foreign_ip" in step_up_reasons(with_derived(payment(10), {"device_known": false, "ip_domestic": false, "ip_foreign": false}))
	not "new_device_foreign_ip" in step_up_reasons(with_derived(payment(10), {"ip_domestic": false}))
}

# A threshold holds at the same value in every currency: 5 000 CNY is
# 704.23 USD at the configured rate.
test_thresholds_hold_in_every_currency if {
	"large_amount" in step_up_reasons(payment(5000))
	not "large_amount" in step_up_reasons(payment(4999))
	"large_amount" in step_up_reasons(in_currency(payment(0), "USD", 704.23))
	not "large_amount" in step_up_reasons(in_currency(payment(0), "USD", 704.22))
	"large_amount" in step_up_reasons(in_currency(payment(0), "HKD", 5494.51))
	not "large_amount" in step_up_reasons(in_currency(payment(0), "HKD", 5494.5))
}

test_unknown_currency_steps_up if {
	"unsupported_currency" in step_up_reasons(in_currency(payment(1), "XYZ", 1))
	not "unsupported_currency" in step_up_reasons(payment(1))
	not "unsupported_currency" in step_up_reasons(login)
}

test_vip_relaxes_amount_thresholds if {
	not "large_amount" in step_up_reasons(with_derived(payment(6000), {"vip": true}))
	"large_amount" in step_up_reasons(with_derived(payment(15000), {"vip": true}))
}

test_long_standing_account_waives_threshold_only_reasons if {
	req := with_derived(stateful(payment(6000)), {"account_age_days": 2000})
	not "large_amount" in step_up_reasons(req)
}

test_long_standing_account_on_new_device_keeps_threshold_reasons if {
	req := with_derived(stateful(payment(6000)), {"account_age_days": 2000, "device_known": false})
	"large_amount" in step_up_reasons(req)
}

# Trust needs positive evidence: without the account's state (risk state
# off or unreadable) or with an unknown age, nothing is waived.
test_trust_needs_evidence if {
	"large_amount" in step_up_reasons(with_derived(payment(6000), {"account_age_days": 2000}))
	"large_amount" in step_up_reasons(with_derived(stateful(payment(6000)), {"account_age_days": -1}))
}

test_sensitive_change_before_large_outflow if {
	req := with_derived(payment(2500), {"sensitive_change_hours": 5})
	"sensitive_change_before_large_amount" in step_up_reasons(req)
	not "sensitive_change_before_large_amount" in step_up_reasons(with_derived(payment(2500), {"sensitive_change_hours": 100}))
	not "sensitive_change_before_large_amount" in step_up_reasons(with_derived(payment(1999), {"sensitive_change_hours": 5}))
}

test_sensitive_change_is_not_a_reason_for_repayment if {
	req := with_derived(object.union(payment(2500), {"stage": "repayment"}), {"sensitive_change_hours": 5, "outflow": false})
	not "sensitive_change_before_large_amount" in step_up_reasons(req)
}

test_new_account_large_amount if {
	"new_account_large_amount" in step_up_reasons(with_derived(payment(2000), {"account_age_days": 2}))
	not "new_account_large_amount" in step_up_reasons(with_derived(payment(2000), {"account_age_days": 30}))
	"new_account_large_amount" in step_up_reasons(with_derived(payment(2000), {"account_age_days": -1}))
}

test_high_value_category if {
	"high_value_category" in step_up_reasons(with_txn(payment(2000), {"category": "jewellery"}))
	not "high_value_category" in step_up_reasons(with_txn(payment(1000), {"category": "jewellery"}))
}

test_amount_far_above_category_price if {
	# daily goods usually cost 200 CNY; more than 3x that is unusual.
	"amount_above_category_price" in step_up_reasons(payment(601))
	not "amount_above_category_price" in step_up_reasons(payment(600))
	not "amount_above_category_price" in step_up_reasons(with_txn(payment(601), {"category": "unknown"}))
}

test_cross_border_order if {
	order := object.union(with_derived(payment(1000), {"cross_border": true, "outflow": false}), {"stage": "order"})
	"cross_border_order" in step_up_reasons(order)
	not "cross_border_order" in step_up_reasons(in_currency(order, "CNY", 999))
}

test_virtual_card if {
	"virtual_card" in step_up_reasons(with_txn(payment(2000), {"payment_method": "virtual_card"}))
	not "virtual_card" in step_up_reasons(with_txn(payment(100), {"payment_method": "virtual_card"}))
}

test_risky_environment if {
	every flag in ["emulator", "rooted", "proxy"] {
		"risky_environment" in step_up_reasons(object.union(login, {"device": {flag: true}}))
	}
}

test_obligations_parse_as_the_sidecar_expects if {
	obl := riskpdp.obligations with input as payment(50000)
	count(obl) == 1
	every o in obl {
		o.type == "flag"
		o.kind == "key_tracking"
	}
}

test_extreme_outflow_without_purpose_is_denied if {
	"extreme_amount_unclear_purpose" in deny_reasons(payment(50000))
	"extreme_amount_unclear_purpose" in deny_reasons(with_txn(payment(50000), {"purpose": "tuition", "destination_new": true}))
	not "extreme_amount_unclear_purpose" in deny_reasons(with_txn(payment(50000), {"purpose": "tuition", "destination_new": false}))

	# A destination not said to be known counts as new.
	"extreme_amount_unclear_purpose" in deny_reasons(with_txn(payment(50000), {"purpose": "tuition"}))
}

# VIP relaxes step-up thresholds, never a deny: 60 000 CNY without a
# purpose stays blocked for a VIP.
test_vip_never_escapes_a_deny if {
	"extreme_amount_unclear_purpose" in deny_reasons(with_derived(payment(60000), {"vip": true}))
	"extreme_amount_unclear_purpose" in deny_reasons(with_derived(payment(200000), {"vip": true}))
}

test_contested_and_large_cases_are_flagged if {
	obl := riskpdp.obligations with input as payment(50000)
	{"type": "flag", "kind": "key_tracking", "reason": "large_amount"} in obl
	count(riskpdp.obligations) == 0 with input as payment(100)
	denies := riskpdp.deny with input as payment(50000)
	count(denies) > 0
	every d in denies {
		d.flag == "key_tracking"
	}
}

# An order is held to what its payment will be: one its payment would be
# denied for is denied at the order (it was stepped up, verified and
# allowed, and its payment then denied: a verified order never paid).
test_extreme_order_is_denied_like_its_payment if {
	order := object.union(with_derived(payment(98000), {"outflow": false}), {"stage": "order"})
	"extreme_amount_unclear_purpose" in deny_reasons(order)
	"extreme_amount_unclear_purpose" in deny_reasons(with_txn(order, {"purpose": "wedding ring"}))
	not "extreme_amount_unclear_purpose" in deny_reasons(with_txn(order, {"purpose": "wedding ring", "destination_new": false}))
	every req in [
		order, with_txn(order, {"purpose": "wedding ring"}),
		with_txn(order, {"purpose": "wedding ring", "destination_new": false}),
	] {
		pay := with_derived(object.union(req, {"stage": "payment"}), {"outflow": true})
		extreme_denied(req) == extreme_denied(pay)
	}
}

extreme_denied(req) := "extreme_amount_unclear_purpose" in deny_reasons(req)
