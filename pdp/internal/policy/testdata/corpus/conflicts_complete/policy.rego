# The decision sets written as complete rules: two definitions of deny
# that both hold with different sets are OPA's conflict error, which
# partial evaluation would answer as the union of both.
package riskpdp

deny := {"a"} if input.context.x > 1

deny := {"b"} if input.context.x > 2

step_up := {r | some r in input.context.rs; startswith(r, "r_")}
