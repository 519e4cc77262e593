# Comparisons across types: OPA orders null < booleans < numbers < strings
# < arrays < objects < sets, and equality never converts.
package riskpdp

step_up contains "gt_five" if input.context.n > 5

step_up contains "eq_five" if input.context.n == 5

step_up contains "eq_five_string" if input.context.n == "5"

deny contains "negative" if input.context.n < 0

step_up contains "bool_gt" if input.context.b > 0

step_up contains "array_gt" if input.context.arr > [1]

step_up contains "float_eq" if input.context.f == 1.0

step_up contains "neq_five" if input.context.n != 5

step_up contains "amount_int" if input.derived.amount_base == 100

step_up contains "exp" if input.context.f >= 1e3

deny contains "score_string" if input.scores.m.score >= "0.7"
