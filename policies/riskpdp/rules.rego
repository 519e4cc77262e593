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

deny contains extreme if {
	input.derived.outflow == true
	amount >= th.extreme
	new_destination
}

# The order a payment will pay is held to the same: a purchase its payment
# would be denied for is denied at the order, not verified first and then
# left unpayable (the order's check releases its payment's step-ups, never
# a deny).
deny contains extreme if {
	input.stage == "order"
	amount >= th.extreme
	object.get(input.txn, "purpose", "") == ""
}

deny contains extreme if {
	input.stage == "order"
	amount >= th.extreme
	new_destination
}

# --- destinations -----------------------------------------------------------

# Money leaving for somewhere the account never sent money to (or first
# did less than a day ago): verify, and warn about scams: "safe
# accounts", fake agents and investment schemes all ask for a transfer to
# a new payee. Long-standing accounts are not exempt: scam victims are
# mostly long-standing customers.
new_payee := {"reason": "new_destination", "warning": "anti_fraud"}

step_up contains new_payee if {
	input.stage == "withdrawal"
	input.derived.destination_new == true
	amount >= th.new_destination
}

# A large first transfer to a new payee waits: a day after a first,
# smaller transfer to it is allowed, the destination is known (the
# cooling-off of new payees; 000 §2.3 "stricter rather than bottomless").
# A scam victim passes every check the scammer coaches them through; the
# wait is what stops the money.
deny contains {"reason": "new_destination_large", "warning": "anti_fraud", "flag": "key_tracking"} if {
	input.stage == "withdrawal"
	input.derived.destination_new == true
	amount >= th.new_destination_max
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

# A young account paying from a device it never used: the first payments
# of a fresh (or bought) account, from a fraud ring's device. Once a
# payment from the device is allowed, the device is known.
step_up contains "young_account_new_device" if {
	input.derived.money == true
	input.derived.device_known == false
	input.derived.account_age_days < config.young_account_days
}

# The login too: an allowed login makes the device known to the account.
step_up contains "young_account_new_device" if {
	input.stage == "login"
	input.derived.device_known == false
	input.derived.account_age_days < config.young_account_days
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
