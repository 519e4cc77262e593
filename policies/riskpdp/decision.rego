# METADATA
# title: Payment-risk decision
# description: |
#   The decision document the sidecar evaluates (data.riskpdp.decision).
#   Rule files add reason codes to deny and step_up; the sidecar derives the
#   outcome from them (deny beats step_up beats allow), unions the step-up
#   methods of the reasons that fired (from "methods", reason -> methods)
#   and carries out the obligations. Thresholds live in config/data.json
#   (data.riskpdp.config).
#
#   Every rule starts with an equality on the input (stage, a derived flag,
#   a device flag) so that OPA's rule index skips rules that cannot apply
#   without evaluating them.
package riskpdp

import data.riskpdp.config

decision := {
	"deny": deny,
	"step_up": step_up,
	"methods": config.methods,
	"obligations": obligations,
} if {
	# Without thresholds every amount rule would silently stay quiet: make
	# the decision undefined instead, so the sidecar falls back and refuses
	# to activate such a policy set.
	config.thresholds["default"].large
}
