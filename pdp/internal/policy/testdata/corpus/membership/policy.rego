# Membership `in` with constant sets and arrays of strings, numbers,
# booleans and mixed types, and under `not`.
package riskpdp

step_up contains "category" if input.txn.category in {"gift_card", "phone"}

deny contains "method" if input.txn.payment_method in ["virtual_card", "prepaid"]

step_up contains "level" if input.context.level in {1, 2, 3}

step_up contains "new_device" if input.device.new in {true}

step_up contains "large_outflow" if {
	input.stage in {"payment", "withdrawal"}
	input.derived.amount_base > 3000
}

deny contains "currency" if {
	input.derived.money == true
	not input.txn.currency in {"CNY", "USD"}
}

step_up contains "mixed" if input.context.v in {"1", 1, true, null}
