# Shared facts: thresholds for the request's currency, VIP and trust.
package riskpdp

import data.riskpdp.config

# th holds the thresholds of the request's currency.
th := t if {
	t := config.thresholds[input.txn.currency]
} else := config.thresholds["default"]

# multiplier relaxes amount thresholds for VIP accounts; it never relaxes a
# deny reason.
multiplier := config.vip_multiplier if {
	input.account.vip == true
} else := 1

amount := input.txn.amount

# trusted accounts have a long clean history and nothing recent that changes
# the picture (no sensitive change, no new device): rules that fire only on
# a tight threshold do not apply to them (000 §2.2).
trusted if {
	input.derived.account_age_days >= config.long_standing_days
	not recent_sensitive_change
	not input.device.new
}

recent_sensitive_change if {
	h := input.derived.sensitive_change_hours
	h >= 0
	h < config.sensitive_change_window_hours
}

category_price := p if {
	p := config.category_price[input.txn.currency][input.txn.category]
} else := config.category_price["default"][input.txn.category]
