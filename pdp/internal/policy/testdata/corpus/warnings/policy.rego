# Several hits carrying a warning: the decision shows the first in OPA's
# order of the hits set, whatever the order the rules are written in.
package riskpdp

deny contains {"reason": "z_written_first", "warning": "warning of z"} if input.context.z == true

deny contains {"reason": "a_written_second", "warning": "warning of a"} if input.context.a == true

step_up contains {"reason": "m_step", "warning": "warning of m"} if input.context.m == true

step_up contains {"reason": "b_step", "warning": "warning of b"} if input.context.b == true
