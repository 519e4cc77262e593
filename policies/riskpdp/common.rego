# METADATA
# title: Payment-risk decision
# description: |
#   The sidecar reads this package's rules: deny, step_up and obligations
#   (sets of reason entries and actions) and methods (reason → step-up
#   methods). It derives the outcome itself: deny beats step_up beats allow.
#   Thresholds live in config/data.json (data.riskpdp.config).
#
#   Every amount the rules compare is in the base currency of `rates`
#   (config.base_currency): the sidecar adds the request's amount converted
#   (input.derived.amount_base; a currency without a rate is valued as the
#   most valuable one, never as zero) and hands velocity sums, the day's
#   spend and account limits over in base units too. A threshold has one
#   value whatever the currency an operation is made in.
#
#   Written for speed: every rule starts with an equality on the input
#   (stage, a derived flag, a device flag) that OPA's rule index uses, and
#   helpers avoid `else` so that the sidecar's optimizer can specialize
#   them against the data (one rule per currency, constants inlined).
package riskpdp

import data.riskpdp.config

methods := config.methods

# rates is the value of one unit of each currency in the base currency.
# The sidecar reads it (data.riskpdp.rates) to convert amounts.
rates := config.rates

# messages are the user-facing texts per locale and situation; the sidecar
# reads them (data.riskpdp.messages) and picks the situation's text, never
# saying which rule fired.
messages := config.messages

# th holds the thresholds, in the base currency.
th := config.thresholds

# A currency without a rate is valued strictly by the sidecar, and verified.
step_up contains "unsupported_currency" if {
	input.derived.money == true
	not config.rates[input.txn.currency]
}

# multiplier relaxes amount thresholds for VIP accounts; it never relaxes a
# deny reason.
multiplier := config.vip_multiplier if input.derived.vip == true

multiplier := 1 if input.derived.vip == false

# amount is the request's amount in the base currency.
amount := input.derived.amount_base

# trusted accounts have a long clean history and nothing recent that changes
# the picture (no sensitive change, no new device): rules that fire only on
# a tight threshold do not apply to them (000 §2.2). Every part needs
# positive evidence: an account age the caller or the sidecar knows, a
# device the sidecar has seen the account use, an account state the
# sidecar could read. A missing field is never evidence of safety.
trusted if {
	input.derived.device_known == true
	input.derived.account_age_days >= config.long_standing_days
	input.account_state.ever_frozen == false
	not recent_sensitive_change
}

# The allow list exempts an account from threshold-only rules.
trusted if input.reputation.uid.allowed == true

# new_destination: the money goes somewhere new. For a withdrawal the
# sidecar knows (input.derived.destination_new: a destination it has not
# seen the account use for a day, or none named); a payment's destination
# is the merchant, new unless the caller says otherwise, and so is the
# merchant of the order it pays.
new_destination if input.derived.destination_new == true

new_destination if {
	input.stage == "payment"
	not input.txn.destination_new == false
}

new_destination if {
	input.stage == "order"
	not input.txn.destination_new == false
}

recent_sensitive_change if {
	input.derived.sensitive_change_hours >= 0
	input.derived.sensitive_change_hours < config.sensitive_change_window_hours
}

# category_price is the usual price of the category, in the base currency;
# unknown categories have none.
category_price := config.category_price[input.txn.category]

# spent_24h is what the account was allowed to move in the last 24 hours, in
# the base currency (0 without velocity).
spent_24h := input.velocity.spent_24h

spent_24h := 0 if not input.velocity.spent_24h
