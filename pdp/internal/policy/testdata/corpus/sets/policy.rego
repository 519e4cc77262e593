# Sets: constant sets from rules and literals, set results, sets compared
# with arrays, and a set-valued input path.
package riskpdp

bad_countries := {"KP", "IR", "SY"}

deny contains "bad_country" if input.device.ip_country in bad_countries

step_up contains "category" if input.txn.category in {"gift_card", "phone"}

step_up contains "not_a_set" if input.context.tags == {"a", "b"}

step_up contains "array_tags" if input.context.tags == ["a", "b"]

deny contains "empty_tags" if count(input.context.tags) == 0

step_up contains "home_bad" if {
	input.derived.money == true
	input.account.home_country in bad_countries
}
