# Complete rules the sidecar reads: limit, warning, methods, outcome,
# reasons, and obligations.
package riskpdp

limit := {"max_amount": 1000, "currency": "CNY", "duration": "24h"} if input.account_state.probation == true

warning := "anti_fraud" if input.context.scam == true

methods := {"large": ["face"], "new_device": ["sms", "face"]}

outcome := "step_up" if input.context.force == true

reasons := ["extra_check"] if input.context.extra == true

step_up contains "large" if input.derived.amount_base > 5000

step_up contains "new_device" if input.device.new == true

obligations contains {"type": "freeze", "kind": "temporary", "reason": "burst", "duration": "30m"} if input.velocity.uid.count_1m > 5
