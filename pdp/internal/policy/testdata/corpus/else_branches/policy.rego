# Else branches: a complete rule and a function with else.
package riskpdp

tier := "high" if {
	input.derived.amount_base >= 5000
} else := "medium" if {
	input.derived.amount_base >= 1000
} else := "low"

step_up contains "tier_high" if tier == "high"

step_up contains "tier_medium" if {
	input.derived.money == true
	tier == "medium"
}

size(x) := "big" if {
	x > 100
} else := "small"

deny contains "big_n" if size(input.context.n) == "big"

warning := "large_amount" if {
	input.derived.money == true
	tier == "high"
}
