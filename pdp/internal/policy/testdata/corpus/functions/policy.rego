# Functions: with a value, boolean, with two arguments, building a reason.
package riskpdp

double(x) := x * 2

over(x, limit) if x > limit

known_currency(c) if c in {"CNY", "USD"}

step_up contains "double" if double(input.derived.amount_base) > 1000

deny contains "over" if over(input.derived.amount_base, 5000)

step_up contains "unknown_currency" if {
	input.derived.money == true
	not known_currency(input.txn.currency)
}
