# Partial sets whose elements are computed from the input (by a call, in
# an array).
package riskpdp

step_up contains sprintf("category_%s", [input.txn.category]) if input.txn.category in {"phone", "gift_card"}

step_up contains input.context.reason if is_string(input.context.reason)

deny contains concat("_", ["blocked", input.device.ip_country]) if input.device.ip_country in {"KP", "IR"}

deny contains {"reason": concat("_", ["flagged", input.device.ip_country])} if input.device.ip_country in {"KP", "IR"}

step_up contains {"reason": "chosen_method", "methods": [input.context.method]} if input.context.method in {"face", "sms"}
