# State rules: over what the sidecar remembers (lists, freezes, probation,
# limits, verifications) and counts (velocity). The sidecar adds these
# documents to the input: reputation, account_state, verification,
# velocity (see the README's input reference).
package riskpdp

import data.riskpdp.config

# --- lists: a blocklist is never waived, not even for VIP accounts ----------

deny contains "blocklisted_uid" if input.reputation.uid.blocked == true

deny contains "blocklisted_device" if input.reputation.device.blocked == true

deny contains "threat_ip" if input.reputation.ip.blocked == true

deny contains "blocklisted_card_bin" if input.reputation.card_bin.blocked == true

# --- freezes and restrictions ---------------------------------------------

deny contains "account_frozen" if input.account_state.frozen == true

# A grey freeze denies some functions (e.g. withdrawals) and keeps others.
deny contains "function_restricted" if input.account_state.stage_restricted == true

# Probation after a release (002): large transactions need a fresh two-factor
# verification.
step_up contains {"reason": "probation_large_amount", "methods": ["face", "sms"]} if {
	input.account_state.probation == true
	input.derived.money == true
	amount >= th.probation_large
}

# Short-term limits set at release time.
deny contains "limit_exceeded" if {
	input.derived.money == true
	input.account_state.limit.max_amount > 0
	amount > input.account_state.limit.max_amount
}

# The daily cap of a release bounds consecutive large payments (000 §3.3):
# an everyday payment after a verified large one is not held to it.
deny contains "daily_limit_exceeded" if {
	input.derived.money == true
	input.account_state.limit.daily_amount > 0
	amount >= th.medium
	spent_24h + amount > input.account_state.limit.daily_amount
}

# A daily cap an operator set (PUT /admin/v1/accounts/{uid}/limit) counts
# every money movement: a cap of 500 that let through any number of 1 999
# payments would cap nothing.
deny contains "daily_limit_exceeded" if {
	input.derived.money == true
	input.account_state.limit.operator_daily_amount > 0
	spent_24h + amount > input.account_state.limit.operator_daily_amount
}

# --- verification ("verify first, release after") ---------------------------

# A failed or refused check keeps the block. A passed one satisfies the
# step-up reasons whose methods it covers (the sidecar does that, for the
# very operation it was issued for: same stage, transaction, amount,
# currency and device); the release comes with a daily cap (000 §3.3). The
# sidecar makes a cap set by an allowed operation cover that operation (the
# day's spend plus the released amount), so a release never exceeds the
# cap it announces.
deny contains "verification_failed" if input.verification.status == "failed"

deny contains "verification_refused" if input.verification.status == "refused"

obligations contains {
	"type": "limit",
	"reason": "conditional_release",
	"limit": {
		"daily_amount": th.large * config.conditional_release.daily_cap_multiplier,
		"currency": config.base_currency,
		"duration": config.conditional_release.duration,
	},
} if {
	input.verification.status == "passed"
	input.derived.money == true
}

# --- velocity ---------------------------------------------------------------

# More than N money movements in a minute: block and freeze for a while
# (001), then probation.
deny contains {"reason": "high_frequency", "flag": "key_tracking"} if {
	input.derived.money == true
	input.velocity.uid.count_1m > config.velocity.max_txn_per_minute
}

# Tiered: the first freeze of a day is temporary (it lifts itself into a
# probation); another high-frequency episode within a day, once the
# account is no longer frozen, is a review freeze an operator must lift.
obligations contains {
	"type": "freeze", "kind": "temporary", "reason": "high_frequency",
	"duration": config.freeze.temporary_duration,
	"probation": config.freeze.probation_duration,
} if {
	input.derived.money == true
	input.velocity.uid.count_1m > config.velocity.max_txn_per_minute
	not repeat_offender
	not held_for_review
}

obligations contains {"type": "freeze", "kind": "review", "reason": "high_frequency_repeated"} if {
	input.derived.money == true
	input.velocity.uid.count_1m > config.velocity.max_txn_per_minute
	repeat_offender
}

repeat_offender if {
	input.account_state.frozen == false
	input.account_state.freezes_24h >= config.freeze.review_after_freezes_24h
}

# An account an operator must release already: a further burst adds no
# temporary freeze on top (it stacked one, journaled as a second freeze,
# whose lifting then read as a probation under the review freeze).
held_for_review if input.account_state.freeze_kind == "review"

held_for_review if input.account_state.freeze_kind == "permanent"

# More money movements in an hour than a person makes.
step_up contains "many_transactions_hour" if {
	input.derived.money == true
	input.velocity.uid.count_1h > config.velocity.max_txn_per_hour
}

# Money calls faster than a person makes them, counting what transactions
# do not: retries and refused or abandoned attempts (card testing, a retry
# storm). A person verifies; a customer retrying after a timeout or a
# step-up stays well below.
step_up contains "many_attempts" if {
	input.derived.money == true
	input.velocity.attempts_1m > config.velocity.max_attempts_per_minute
}

# Several large amounts in an hour: a transaction from the medium
# threshold when at least large_txn_window_count transactions (retries
# count once), it among them, move large_amount_hour_multiple times the
# large threshold together, in money that moved: the day's spend (what
# was allowed and did not fail) and this one reach it too. The everyday
# payment after them is not one (a grocery bill after two verified large
# payments was stepped up for an hour), nor are attempts that never
# executed (a denied 60 000 made the next 7 000 "repeated").
step_up contains "repeated_large_amounts" if {
	input.derived.money == true
	amount >= th.medium
	input.velocity.uid.count_1h >= config.velocity.large_txn_window_count
	total := th.large * config.velocity.large_amount_hour_multiple
	input.velocity.uid.amount_1h >= total
	spent_24h + amount >= total
}

# Frequent switching of payment methods, on one purchase or by one account.
step_up contains "payment_method_switching" if {
	input.derived.money == true
	input.velocity.purchase_methods_1h > config.velocity.max_methods_per_purchase
}

deny contains "payment_method_switching" if {
	input.derived.money == true
	input.velocity.purchase_methods_1h > config.velocity.deny_methods_per_purchase
}

step_up contains "payment_method_switching" if {
	input.derived.money == true
	input.velocity.uid_methods_1h > config.velocity.max_methods_per_uid_hour
}

# One payment instrument paying for many accounts.
step_up contains "shared_instrument" if {
	input.derived.money == true
	input.velocity.instrument_uids_1h > config.velocity.max_uids_per_instrument_hour
}

# Repeated profile and contact changes before moving money (tampering).
step_up contains "profile_tampering" if {
	input.derived.money == true
	amount >= th.medium
	input.account_state.profile_changes_7d >= config.velocity.max_profile_changes_7d
}

step_up contains "many_accounts_on_device" if {
	input.velocity.device_uids_1h > config.velocity.max_uids_per_device_hour
}

# A device farm: more accounts on one device than a household shares.
deny contains {"reason": "device_farm", "flag": "key_tracking"} if {
	input.derived.money == true
	input.velocity.device_uids_1h > config.velocity.device_farm_uids_hour
}

# Card testing: one account trying card after card.
step_up contains "many_instruments" if {
	input.derived.money == true
	input.velocity.uid_instruments_1h > config.velocity.max_instruments_per_uid_hour
}

deny contains {"reason": "card_testing", "flag": "key_tracking"} if {
	input.derived.money == true
	input.velocity.uid_instruments_1h > config.velocity.card_testing_instruments_hour
}

# Money to a new destination from an account flagged for follow-up in the
# last day (a scam statement, guidance, an extreme amount): the coached
# second try, smaller and without a word.
deny contains {"reason": "flagged_new_destination", "warning": "anti_fraud", "flag": "key_tracking"} if {
	input.stage == "withdrawal"
	input.derived.destination_new == true
	input.account_state.flags_24h > 0
}

# Money sent to yet another new destination the same day: the fan-out of
# a mule account cashing out. (A second payment to a payee first paid
# today is verified again: new_destination.)
deny contains {"reason": "new_destinations_repeated", "warning": "anti_fraud", "flag": "key_tracking"} if {
	input.stage == "withdrawal"
	input.derived.destination_new == true
	amount >= th.new_destination
	input.account_state.new_destinations_24h >= config.velocity.max_new_destinations_24h
}

step_up contains "many_devices_for_account" if {
	input.velocity.uid_devices_1h > config.velocity.max_devices_per_uid_hour
}

step_up contains "payment_failures" if {
	input.derived.money == true
	input.velocity.failures.payment_1h >= config.velocity.max_payment_failures_hour
}

deny contains "pin_lockout" if {
	input.derived.money == true
	input.velocity.failures.pin_1h >= config.velocity.pin_lockout_failures
}

step_up contains "login_failures" if {
	input.stage == "login"
	input.velocity.failures.login_1h >= config.velocity.max_login_failures_hour
}

# --- unknown state ----------------------------------------------------------

# A shared state store (Redis) that could not answer in time names what it
# could not read in input.state_unknown. What is known still applies (a
# cached block still denies); what is not known is verified.
step_up contains "state_unavailable" if count(input.state_unknown) > 0
