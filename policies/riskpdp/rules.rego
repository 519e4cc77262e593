# Request rules: over the device, the transaction, the account profile and
# the context, one reason code each. Rules that fire only on a tight
# threshold carry `not trusted`; deny rules are never relaxed.
package riskpdp

import data.riskpdp.config

# --- deny ---------------------------------------------------------------

# A third party guiding the user ("customer service told me to refund") is
# the classic scam pattern: keep the block and show an anti-fraud warning.
scam := {"reason": "anti_scam_guidance", "warning": "anti_fraud"}

deny contains scam if {
	input.context.third_party_guidance == true
	input.derived.money == true
}

deny contains scam if {
	input.context.remote_assistance == true
	input.derived.money == true
}

deny contains scam if {
	input.derived.money == true
	is_string(input.context.user_statement)
	statement := lower(input.context.user_statement)
	some kw in config.scam_keywords
	contains(statement, kw)
}

# "Stricter rather than bottomless": very large outflows with no stated
# purpose or to a new destination stay blocked.
deny contains "extreme_amount_unclear_purpose" if {
	input.derived.outflow == true
	amount >= th.extreme * multiplier
	unclear_purpose
}

unclear_purpose if not input.txn.purpose

unclear_purpose if input.txn.purpose == ""

unclear_purpose if input.txn.destination_new == true

# --- step up --------------------------------------------------------------

step_up contains "new_device_foreign_ip" if {
	input.device.new == true
	input.derived.ip_foreign == true
}

step_up contains "risky_environment" if input.device.emulator == true

step_up contains "risky_environment" if input.device.rooted == true

step_up contains "risky_environment" if input.device.proxy == true

step_up contains "large_amount" if {
	input.derived.money == true
	amount >= th.large * multiplier
	not trusted
}

step_up contains "sensitive_change_before_large_amount" if {
	input.derived.outflow == true
	amount >= th.medium
	recent_sensitive_change
}

step_up contains "new_account_large_amount" if {
	input.derived.money == true
	amount >= th.medium
	input.derived.account_age_days >= 0
	input.derived.account_age_days < config.new_account_days
}

step_up contains "high_value_category" if {
	input.derived.money == true
	config.high_value_categories[input.txn.category]
	amount >= th.medium * multiplier
	not trusted
}

step_up contains "amount_above_category_price" if {
	input.derived.money == true
	amount > (category_price * config.category_price_factor) * multiplier
	not trusted
}

step_up contains "cross_border_order" if {
	input.stage == "order"
	input.derived.cross_border == true
	amount >= th.cross_border
}

step_up contains "virtual_card" if {
	input.txn.payment_method == "virtual_card"
	input.derived.money == true
	amount >= th.medium
}

# --- obligations ----------------------------------------------------------

# Large or contested cases are flagged for follow-up ("key tracking").
obligations contains {"type": "flag", "kind": "key_tracking", "reason": "contested"} if {
	some d in deny
	d in {scam, "extreme_amount_unclear_purpose"}
}

obligations contains {"type": "flag", "kind": "key_tracking", "reason": "large_amount"} if {
	input.derived.money == true
	amount >= th.extreme
}
