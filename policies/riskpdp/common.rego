# METADATA
# title: Payment-risk decision
# description: |
#   The sidecar reads this package's rules: deny, step_up and obligations
#   (sets of reason entries and actions) and methods (reason → step-up
#   methods). It derives the outcome itself: deny beats step_up beats allow.
#   Thresholds live in config/data.json (data.riskpdp.config).
#
#   Written for speed: every rule starts with an equality on the input
#   (stage, a derived flag, a device flag) that OPA's rule index uses, and
#   helpers avoid `else` so that the sidecar's optimizer can specialize
#   them against the data (one rule per currency, constants inlined).
package riskpdp

import data.riskpdp.config

methods := config.methods

# th holds the thresholds of the request's currency (the sidecar requires
# a currency for every money stage). A currency without thresholds steps up
# rather than slipping under every amount rule.
th := config.thresholds[input.txn.currency]

step_up contains "unsupported_currency" if {
	input.derived.money == true
	not config.thresholds[input.txn.currency]
}

# multiplier relaxes amount thresholds for VIP accounts; it never relaxes a
# deny reason.
multiplier := config.vip_multiplier if input.derived.vip == true

multiplier := 1 if input.derived.vip == false

amount := input.txn.amount

# trusted accounts have a long clean history and nothing recent that changes
# the picture (no sensitive change, no new device): rules that fire only on
# a tight threshold do not apply to them (000 §2.2).
trusted if {
	input.derived.account_age_days >= config.long_standing_days
	not input.account_state.ever_frozen
	not recent_sensitive_change
	not input.device.new
}

# The allow list exempts an account from threshold-only rules.
trusted if input.reputation.uid.allowed == true

recent_sensitive_change if {
	input.derived.sensitive_change_hours >= 0
	input.derived.sensitive_change_hours < config.sensitive_change_window_hours
}

# category_price is the usual price of the category in the request's
# currency; unknown categories have none.
category_price := config.category_price[input.txn.currency][input.txn.category]
