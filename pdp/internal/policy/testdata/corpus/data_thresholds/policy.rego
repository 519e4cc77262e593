# Thresholds from data per currency, a block list and a ratio: partial
# evaluation folds them into one rule per currency.
package riskpdp

import data.fragment

step_up contains "large" if input.derived.amount_base >= fragment.thresholds[input.txn.currency]

deny contains "merchant" if input.txn.merchant in fragment.blocked

step_up contains "score" if input.scores.m.score >= fragment.ratio

step_up contains "unknown_currency" if {
	input.derived.money == true
	not fragment.thresholds[input.txn.currency]
}
