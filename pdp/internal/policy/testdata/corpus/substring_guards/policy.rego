# contains(x, "needle") guards, which the fast program indexes: on a path,
# on a call of a path (lower, which the fast program makes once), through a
# variable, with needles that overlap, repeat or are empty; ahead of a call
# that may fail (to_number: OPA never reaches it when the needle is absent);
# on values that are not strings (contains' and lower's own errors).
package riskpdp

deny contains "kw_safe" if {
	is_string(input.context.statement)
	contains(lower(input.context.statement), "safe account")
}

deny contains "kw_screen" if contains(lower(input.context.statement), "screen share")

step_up contains "kw_share" if contains(lower(input.context.statement), "share")

step_up contains "kw_empty" if {
	input.stage == "payment"
	contains(lower(input.context.statement), "")
}

step_up contains "kw_raw" if contains(input.context.note, "refund")

step_up contains "kw_raw_upper" if contains(input.context.note, "REFUND")

step_up contains "kw_alias" if {
	note := input.context.note
	contains(note, "urgent")
}

deny contains "kw_before_number" if {
	is_string(input.context.statement)
	contains(lower(input.context.statement), "transfer")
	to_number(input.context.n) > 3
}

step_up contains "kw_two" if {
	s := lower(input.context.statement)
	contains(s, "guide")
	contains(s, "phone")
}

step_up contains "kw_not" if {
	input.stage == "withdrawal"
	is_string(input.context.statement)
	not contains(lower(input.context.statement), "salary")
}
