# Equalities after calls: a built-in's result compared with a constant or
# bound and compared again.
package riskpdp

step_up contains "lower_uid" if lower(input.uid) == "boom"

step_up contains "twelve" if {
	n := to_number(input.context.n)
	n == 12
}

step_up contains "route" if concat("-", [input.device.ip_country, input.txn.currency]) == "US-USD"

deny contains "test_uid" if substring(input.uid, 0, 2) == "t-"

step_up contains "blank" if trim_space(input.context.s) == ""

step_up contains "round_hundred" if round(input.derived.amount_base) == 100

step_up contains "a_b" if split(input.context.s, ",") == ["a", "b"]

deny contains "abs_three" if abs(input.context.m) == 3
