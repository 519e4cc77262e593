# Built-ins that fail on some inputs (strict built-in errors: the decision
# fails, in OPA as in the sidecar), behind guards and not.
package riskpdp

step_up contains "n_big" if {
	input.txn.currency == "USD"
	to_number(input.context.n) > 10
}

deny contains "pattern" if {
	input.stage == "payment"
	regex.match(input.context.pattern, input.uid)
}

step_up contains "size" if units.parse(input.context.size) > 1000

step_up contains "doc" if json.unmarshal(input.context.doc) == {"kind": "x"}

step_up contains "b64" if base64.decode(input.context.b64) == "hello"

deny contains "time" if {
	input.stage == "login"
	time.parse_rfc3339_ns(input.context.at) > 0
}

step_up contains "ratio" if input.derived.amount_base / input.context.d > 2

step_up contains "plus" if input.context.m + 1 > 5
