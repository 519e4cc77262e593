# Undefined references: deep paths, array elements, missing enrichment,
# null against undefined, dynamic keys.
package riskpdp

step_up contains "deep" if input.context.a.b.c == 1

step_up contains "first" if input.context.list[0] == "x"

deny contains "null_value" if input.context.v == null

step_up contains "many_items" if count(input.context.items) > 2

step_up contains "score" if input.scores.nope.score > 0.5

step_up contains "burst" if input.velocity.uid.count_1m >= 3

deny contains "keyed" if {
	k := input.context.key
	input.context.map[k] == true
}

step_up contains "limit_missing" if {
	input.derived.money == true
	not input.account_state.limit.max_amount
}
