# Negation: of a path, of an equality, of a call, of a comparison, and of
# a value that is undefined, false or of another type.
package riskpdp

step_up contains "no_device" if not input.device

step_up contains "not_new" if {
	input.stage == "login"
	not input.device.new
}

step_up contains "other_currency" if {
	input.stage == "payment"
	not input.txn.currency == "CNY"
}

deny contains "not_prefixed" if {
	input.derived.money == true
	not startswith(input.uid, "t-")
}

step_up contains "no_flag" if {
	input.stage == "order"
	not input.context.flag
}

step_up contains "not_big" if {
	input.derived.outflow == true
	not input.derived.amount_base > 1000
}

deny contains "level_other" if {
	input.context.level
	not input.context.level == 3
	not input.context.level == "3"
}
