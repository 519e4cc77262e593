package riskpdp_test

import data.riskpdp

# withdrawal is a CNY withdrawal to a destination the sidecar has known
# for more than a day (derived.destination_new false).
withdrawal(amount) := object.union(with_derived(payment(amount), {"destination_new": false}), {
	"stage": "withdrawal",
	"txn": {"id": "w-1", "amount": amount, "currency": "CNY", "category": "", "instrument": "i-bank-1", "purpose": "savings"},
})

to_new(req) := with_derived(req, {"destination_new": true})

step_up_names(req) := {reason(e) | some e in riskpdp.step_up with input as req}

test_known_destination_is_clean if {
	req := with_state(withdrawal(3000), {})
	count(step_up_names(req)) == 0
	count(deny_reasons(req)) == 0
}

# A new payee is verified with the anti-fraud warning, long-standing
# account or not; below the threshold it is not.
test_new_destination_is_verified if {
	new := with_state(to_new(withdrawal(800)), {})
	{"reason": "new_destination", "warning": "anti_fraud"} in riskpdp.step_up with input as new
	count(deny_reasons(new)) == 0
	not "new_destination" in step_up_names(with_state(to_new(withdrawal(400)), {}))
	not "new_destination" in step_up_names(with_state(withdrawal(800), {}))

	# Payments have no destination to verify.
	not "new_destination" in step_up_names(with_state(to_new(payment(800)), {}))
}

# A large first transfer to a new payee waits a day; VIP does not change
# a deny.
test_large_first_transfer_to_new_payee_waits if {
	"new_destination_large" in deny_reasons(with_state(to_new(withdrawal(5000)), {}))
	"new_destination_large" in deny_reasons(with_derived(with_state(to_new(withdrawal(9000)), {}), {"vip": true}))
	not "new_destination_large" in deny_reasons(with_state(to_new(withdrawal(4999)), {}))
	not "new_destination_large" in deny_reasons(with_state(withdrawal(9000), {}))
}

# A mule fans out: another new destination the same day is denied; a
# second payment to a payee first paid today is verified again.
test_fan_out_to_new_destinations_is_denied if {
	fan := with_state(to_new(withdrawal(3000)), {"account_state": {"new_destinations_24h": 1}})
	"new_destinations_repeated" in deny_reasons(fan)
	not "new_destinations_repeated" in deny_reasons(with_state(to_new(withdrawal(3000)), {"account_state": {"new_destinations_24h": 0}}))
	not "new_destinations_repeated" in deny_reasons(with_state(withdrawal(3000), {"account_state": {"new_destinations_24h": 3}}))
}

# After a flag (a scam statement denied minutes ago), money to a new
# destination is denied: the coached second try.
test_flagged_account_cannot_send_to_new_destination if {
	"flagged_new_destination" in deny_reasons(with_state(to_new(withdrawal(1200)), {"account_state": {"flags_24h": 1}}))
	not "flagged_new_destination" in deny_reasons(with_state(withdrawal(1200), {"account_state": {"flags_24h": 1}}))
	not "flagged_new_destination" in deny_reasons(with_state(to_new(withdrawal(1200)), {"account_state": {"flags_24h": 0}}))
}

# Extreme amounts to a destination the sidecar does not know stay
# blocked, whatever the caller says of it.
test_extreme_to_new_destination_is_denied if {
	lied := with_txn(to_new(withdrawal(60000)), {"destination_new": false})
	"extreme_amount_unclear_purpose" in deny_reasons(lied)
	not "extreme_amount_unclear_purpose" in deny_reasons(withdrawal(60000))
}

# A young account on a device it never used: verified, logins too.
test_young_account_on_new_device_is_verified if {
	young := {"account_age_days": 12, "device_known": false}
	"young_account_new_device" in step_up_names(with_derived(payment(30), young))
	"young_account_new_device" in step_up_names(with_derived(login, young))
	not "young_account_new_device" in step_up_names(with_derived(payment(30), {"account_age_days": 12}))
	not "young_account_new_device" in step_up_names(with_derived(payment(30), {"account_age_days": 400, "device_known": false}))
}

# Card testing: card after card on one account; a device farm.
cards(n) := with_state(payment(20), {"velocity": {"uid_instruments_1h": n}})

farm(n) := with_state(payment(20), {"velocity": {"device_uids_1h": n}})

methods(n) := with_state(payment(300), {"velocity": {"purchase_methods_1h": n}})

test_card_testing_and_device_farms if {
	not "many_instruments" in step_up_names(cards(2))
	"many_instruments" in step_up_names(cards(3))
	not "card_testing" in deny_reasons(cards(5))
	"card_testing" in deny_reasons(cards(6))
	"many_accounts_on_device" in step_up_names(farm(4))
	not "device_farm" in deny_reasons(farm(5))
	"device_farm" in deny_reasons(farm(6))
}

# Methods switched on one purchase: verified, then denied.
test_method_switching_on_a_purchase if {
	count(step_up_names(methods(2))) == 0
	"payment_method_switching" in step_up_names(methods(3))
	not "payment_method_switching" in deny_reasons(methods(3))
	"payment_method_switching" in deny_reasons(methods(4))
}
