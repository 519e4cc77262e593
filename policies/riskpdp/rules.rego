# Request rules: over the device, the transaction and the account profile,
# one reason code each (the context's scam signals are in scam.rego). Rules
# that fire only on a tight threshold carry `not trusted`; deny rules are
# never relaxed.
package riskpdp

import data.riskpdp.config

# --- deny ---------------------------------------------------------------

# "Stricter rather than bottomless": very large outflows with no stated
# purpose or to a new destination stay blocked, VIP or not (VIP relaxes
# step-up thresholds, never a deny).
extreme := {"reason": "extreme_amount_unclear_purpose", "flag": "key_tracking"}

deny contains extreme if {
	input.derived.outflow == true
	amount >= th.extreme
	object.get(input.txn, "purpose", "") == ""
}

# A destination not said to be known counts as new.
deny contains extreme if {
	input.derived.outflow == true
	amount >= th.extreme
	not input.txn.destination_new == false
}

# --- step up --------------------------------------------------------------

# A device the account has not used, from an IP not known to be in the home
# country (a missing ip_country or home_country is not evidence of home).
step_up contains "new_device_foreign_ip" if {
	input.derived.device_known == false
	input.derived.ip_domestic == false
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

# An account of unknown age (-1: no created_at, and the sidecar never saw
# it) counts as new.
step_up contains "new_account_large_amount" if {
	input.derived.money == true
	amount >= th.medium
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

obligations contains {"type": "flag", "kind": "key_tracking", "reason": "large_amount"} if {
	input.derived.money == true
	amount >= th.extreme
}
