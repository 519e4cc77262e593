# Rules with several definitions that can give different values for the
# same input: OPA raises a conflict error (eval_conflict_error) when two
# hold, and the decision fails; partial evaluation inlines each definition
# as a rule of its own and would answer. Definitions that cannot both hold
# (equalities of one path with different constants, a constant argument)
# or that give the same value cannot conflict.
package riskpdp

# A complete rule: x = 3 makes both hold.
tier := "a" if input.context.x > 1

tier := "b" if input.context.x > 2

deny contains "tier_a" if tier == "a"

# A function: g(5) is 1 and 2.
g(x) := 1 if x >= 5

g(x) := 2 if x <= 5

step_up contains "g_one" if g(input.context.g) == 1

# A partial object: the same key twice with different values.
m[o.name] := o.v if some o in input.context.objs

step_up contains "m_x" if m.x == 1

# A single definition that iterates: several values.
first := v if some v in input.context.vs

step_up contains "first_a" if first == "a"

# The same value in every definition: no conflict.
flag if input.context.p == 1

flag if input.context.q == 1

step_up contains "flag" if flag

# Exclusive definitions: an equality of one path with two constants, a
# constant argument.
mult := 2 if input.context.vip == true

mult := 1 if input.context.vip == false

step_up contains "mult2" if mult == 2

risk("gift_card") := 3

risk("crypto") := 2

deny contains "risk3" if risk(input.txn.category) == 3
