package riskpdp_test

import data.riskpdp

# The enrichment documents the sidecar adds, in their neutral form.
clean_state := {
	"reputation": {
		"uid": {"blocked": false, "allowed": false, "vip": false},
		"device": {"blocked": false, "allowed": false, "vip": false},
		"ip": {"blocked": false, "allowed": false, "vip": false},
		"card_bin": {"blocked": false, "allowed": false, "vip": false},
	},
	"account_state": {
		"frozen": false, "stage_restricted": false, "restricted": [],
		"probation": false, "ever_frozen": false, "known_devices": 1,
	},
	"velocity": {
		"uid": {"count_1m": 1, "count_1h": 1, "count_24h": 1, "amount_1m": 100, "amount_1h": 100, "amount_24h": 100, "logins_1h": 0},
		"device": {"count_1m": 1, "count_1h": 1, "count_24h": 1, "amount_1m": 100, "amount_1h": 100, "amount_24h": 100, "logins_1h": 0},
		"ip": {"count_1m": 1, "count_1h": 1, "count_24h": 1, "amount_1m": 100, "amount_1h": 100, "amount_24h": 100, "logins_1h": 0},
		"uid_devices_1h": 1, "device_uids_1h": 1, "spent_24h": 0,
		"failures": {"payment_1h": 0, "payment_24h": 0, "pin_1h": 0, "pin_24h": 0, "login_1h": 0, "login_24h": 0},
	},
}

stateful(req) := object.union(req, clean_state)

with_state(req, patch) := object.union(stateful(req), patch)

test_clean_state_adds_no_reason if {
	count(step_up_reasons(stateful(payment(120)))) == 0
	count(deny_reasons(stateful(payment(120)))) == 0
}

# SOP: a blocklisted device is denied, whatever else holds.
test_blocklisted_subjects_are_denied if {
	"blocklisted_device" in deny_reasons(with_state(payment(10), {"reputation": {"device": {"blocked": true}}}))
	"blocklisted_uid" in deny_reasons(with_state(login, {"reputation": {"uid": {"blocked": true}}}))
	"threat_ip" in deny_reasons(with_state(payment(10), {"reputation": {"ip": {"blocked": true}}}))
	"blocklisted_card_bin" in deny_reasons(with_state(payment(10), {"reputation": {"card_bin": {"blocked": true}}}))
}

# SOP: VIP relaxes thresholds but never escapes a blocklist.
test_vip_never_escapes_a_blocklist if {
	req := with_derived(with_state(payment(6000), {"reputation": {"device": {"blocked": true}, "uid": {"vip": true}}}), {"vip": true})
	"blocklisted_device" in deny_reasons(req)
	not "large_amount" in step_up_reasons(req)
}

test_allow_list_waives_threshold_only_rules if {
	req := with_state(payment(6000), {"reputation": {"uid": {"allowed": true}}})
	not "large_amount" in step_up_reasons(req)
	"new_device_foreign_ip" in step_up_reasons(with_derived(req, {"ip_foreign": true, "ip_domestic": false, "device_known": false}))
}

test_ever_frozen_accounts_are_not_trusted if {
	req := with_derived(stateful(payment(6000)), {"account_age_days": 2000})
	not "large_amount" in step_up_reasons(stateful(req))
	"large_amount" in step_up_reasons(with_state(req, {"account_state": {"ever_frozen": true}}))
}

# SOP: a frozen account is denied; a grey freeze only denies its functions.
test_frozen_account_is_denied if {
	"account_frozen" in deny_reasons(with_state(payment(10), {"account_state": {"frozen": true, "freeze_kind": "review"}}))
	"function_restricted" in deny_reasons(with_state(payment(10), {"account_state": {"stage_restricted": true}}))
	not "function_restricted" in deny_reasons(with_state(payment(10), {"account_state": {"restricted": ["withdrawal"]}}))
}

# SOP: probation after a release: large amounts need face and SMS.
test_probation_requires_two_factors_for_large_amounts if {
	req := with_state(payment(1000), {"account_state": {"probation": true}})
	entries := riskpdp.step_up with input as req
	{"reason": "probation_large_amount", "methods": ["face", "sms"]} in entries
	not "probation_large_amount" in step_up_reasons(with_state(payment(999), {"account_state": {"probation": true}}))
}

# SOP: short-term limits.
test_limits if {
	"limit_exceeded" in deny_reasons(with_state(payment(600), {"account_state": {"limit": {"max_amount": 500}}}))
	not "limit_exceeded" in deny_reasons(with_state(payment(500), {"account_state": {"limit": {"max_amount": 500}}}))
	daily := {"account_state": {"limit": {"daily_amount": 10000}}, "velocity": {"spent_24h": 8000}}
	"daily_limit_exceeded" in deny_reasons(with_state(payment(2500), daily))
	not "daily_limit_exceeded" in deny_reasons(with_state(payment(2000), daily))

	# The cap bounds large payments: an everyday one after them is not
	# held to it (below the medium threshold).
	not "daily_limit_exceeded" in deny_reasons(with_state(payment(1999), {"account_state": {"limit": {"daily_amount": 10000}}, "velocity": {"spent_24h": 9900}}))

	# An operator's cap counts every money movement, small ones too.
	operator := {"account_state": {"limit": {"daily_amount": 500, "operator_daily_amount": 500}}, "velocity": {"spent_24h": 300}}
	"daily_limit_exceeded" in deny_reasons(with_state(payment(300), operator))
	not "daily_limit_exceeded" in deny_reasons(with_state(payment(200), operator))
	not "daily_limit_exceeded" in deny_reasons(with_state(payment(1999), {"account_state": {"limit": {"daily_amount": 500, "operator_daily_amount": 0}}, "velocity": {"spent_24h": 300}}))

	# Without velocity the amount alone is compared with the cap.
	"daily_limit_exceeded" in deny_reasons(object.union(payment(2001), {"account_state": {"limit": {"daily_amount": 2000}}}))
}

# SOP: failed or refused face check → deny; passed → conditional release.
test_verification_outcomes if {
	"verification_failed" in deny_reasons(with_state(payment(6000), {"verification": {"status": "failed"}}))
	"verification_refused" in deny_reasons(with_state(payment(6000), {"verification": {"status": "refused"}}))
	passed := with_state(payment(6000), {"verification": {"status": "passed", "methods": ["face"], "passed": ["face"]}})
	count(deny_reasons(passed)) == 0
	obl := riskpdp.obligations with input as passed
	some o in obl
	o.type == "limit"
	o.limit.daily_amount == 15000
	o.limit.currency == "CNY"
}

# A fraud model that did not answer could have denied: money movements are
# verified instead; logins are not affected.
test_unavailable_model_steps_up_money if {
	"model_unavailable" in step_up_reasons(with_state(payment(10), {"scores_unavailable": {"fraud_model": true}}))
	not "model_unavailable" in step_up_reasons(with_state(login, {"scores_unavailable": {"fraud_model": true}}))
	not "model_unavailable" in step_up_reasons(with_state(payment(10), {"scores_unavailable": {"device_risk": true}}))
}

# The base currency is the unit of the rates, thresholds and prices.
test_base_currency_is_the_rates_unit if {
	data.riskpdp.config.rates[data.riskpdp.config.base_currency] == 1
	every r in data.riskpdp.config.rates {
		r > 0
	}
}

# SOP: more than 5 payments in a minute → deny and a 30-minute freeze.
test_high_frequency_freezes if {
	req := with_state(payment(10), {"velocity": {"uid": {"count_1m": 6}}})
	"high_frequency" in deny_reasons(req)
	obl := riskpdp.obligations with input as req
	{"type": "freeze", "kind": "temporary", "reason": "high_frequency", "duration": "30m", "probation": "24h"} in obl
	not "high_frequency" in deny_reasons(with_state(payment(10), {"velocity": {"uid": {"count_1m": 5}}}))
}

# Tiered freezes: another high-frequency episode within a day, once the
# temporary freeze has lifted, is a review freeze; while frozen, the
# attempts only extend the temporary one.
test_repeated_high_frequency_is_a_review_freeze if {
	again := with_state(payment(10), {"velocity": {"uid": {"count_1m": 6}}, "account_state": {"freezes_24h": 1}})
	{"type": "freeze", "kind": "review", "reason": "high_frequency_repeated"} in riskpdp.obligations with input as again
	frozen := with_state(payment(10), {"velocity": {"uid": {"count_1m": 6}}, "account_state": {"freezes_24h": 1, "frozen": true}})
	obl := riskpdp.obligations with input as frozen
	{"type": "freeze", "kind": "temporary", "reason": "high_frequency", "duration": "30m", "probation": "24h"} in obl
	every o in obl {
		o.kind != "review"
	}
}

# Under a review (or permanent) freeze a further burst freezes nothing
# more: a temporary freeze was stacked on the review freeze.
test_no_temporary_freeze_under_a_review_freeze if {
	every kind in ["review", "permanent"] {
		held := with_state(payment(10), {"velocity": {"uid": {"count_1m": 7}}, "account_state": {"freezes_24h": 2, "frozen": true, "freeze_kind": kind}})
		"account_frozen" in deny_reasons(held)
		obl := riskpdp.obligations with input as held
		every o in obl {
			o.type != "freeze"
		}
	}
}

test_promotion_relaxes_frequency_by_data if {
	req := with_state(payment(10), {"velocity": {"uid": {"count_1m": 6}}})
	not "high_frequency" in deny_reasons(req) with data.riskpdp.config.velocity.max_txn_per_minute as 20
}

test_velocity_rules if {
	# "Repeated" means at least two transactions: one large one is not.
	not "repeated_large_amounts" in step_up_reasons(with_state(payment(10), {"velocity": {"uid": {"amount_1h": 15000, "count_1h": 1}}}))
	"repeated_large_amounts" in step_up_reasons(with_state(payment(2000), {"velocity": {"uid": {"amount_1h": 15000, "count_1h": 2}, "spent_24h": 13000}}))

	# Attempts that never executed are not amounts moved: a denied 60 000,
	# then 7 000.
	not "repeated_large_amounts" in step_up_reasons(with_state(payment(7000), {"velocity": {"uid": {"amount_1h": 67000, "count_1h": 2}, "spent_24h": 0}}))
	"repeated_large_amounts" in step_up_reasons(with_state(payment(7000), {"velocity": {"uid": {"amount_1h": 67000, "count_1h": 2}, "spent_24h": 8000}}))

	# The everyday payment after large ones is not a large amount repeated.
	not "repeated_large_amounts" in step_up_reasons(with_state(payment(80), {"velocity": {"uid": {"amount_1h": 15000, "count_1h": 3}}}))
	not "repeated_large_amounts" in step_up_reasons(with_state(payment(1999), {"velocity": {"uid": {"amount_1h": 15000, "count_1h": 3}}}))
	"many_transactions_hour" in step_up_reasons(with_state(payment(10), {"velocity": {"uid": {"count_1h": 31}}}))
	not "many_transactions_hour" in step_up_reasons(with_state(payment(10), {"velocity": {"uid": {"count_1h": 30}}}))
	"many_attempts" in step_up_reasons(with_state(payment(10), {"velocity": {"attempts_1m": 13}}))
	not "many_attempts" in step_up_reasons(with_state(payment(10), {"velocity": {"attempts_1m": 12}}))
	not "many_attempts" in step_up_reasons(with_state(login, {"velocity": {"attempts_1m": 40}}))
	"many_accounts_on_device" in step_up_reasons(with_state(login, {"velocity": {"device_uids_1h": 4}}))
	"many_devices_for_account" in step_up_reasons(with_state(login, {"velocity": {"uid_devices_1h": 4}}))
	"payment_failures" in step_up_reasons(with_state(payment(10), {"velocity": {"failures": {"payment_1h": 5}}}))
	"pin_lockout" in deny_reasons(with_state(payment(10), {"velocity": {"failures": {"pin_1h": 5}}}))
	"login_failures" in step_up_reasons(with_state(login, {"velocity": {"failures": {"login_1h": 5}}}))
	not "login_failures" in step_up_reasons(with_state(payment(10), {"velocity": {"failures": {"login_1h": 5}}}))
}

# Signals of the source procedures: payment-method switching (on one
# order, or by one account), one instrument for many accounts, repeated
# profile and contact changes.
test_switching_sharing_and_tampering if {
	"payment_method_switching" in step_up_reasons(with_state(payment(10), {"velocity": {"purchase_methods_1h": 3}}))
	not "payment_method_switching" in step_up_reasons(with_state(payment(10), {"velocity": {"purchase_methods_1h": 2}}))
	"payment_method_switching" in step_up_reasons(with_state(payment(10), {"velocity": {"uid_methods_1h": 4}}))
	"shared_instrument" in step_up_reasons(with_state(payment(10), {"velocity": {"instrument_uids_1h": 4}}))
	not "shared_instrument" in step_up_reasons(with_state(payment(10), {"velocity": {"instrument_uids_1h": 3}}))
	"profile_tampering" in step_up_reasons(with_state(payment(2000), {"account_state": {"profile_changes_7d": 3}}))
	not "profile_tampering" in step_up_reasons(with_state(payment(1999), {"account_state": {"profile_changes_7d": 3}}))
	not "profile_tampering" in step_up_reasons(with_state(payment(2000), {"account_state": {"profile_changes_7d": 2}}))
}

# Shared state past its read budget: what is known applies, the rest is
# verified: a small payment that would pass steps up, a cached block
# still denies.
test_unknown_state_steps_up if {
	req := with_state(payment(10), {"state_unknown": ["account"]})
	step_up_reasons(req) == {"state_unavailable"}
	count(deny_reasons(req)) == 0
	blocked := with_state(payment(10), {"state_unknown": ["account"], "reputation": {"device": {"blocked": true}}})
	"blocklisted_device" in deny_reasons(blocked)
	not "state_unavailable" in step_up_reasons(stateful(payment(10)))
}
