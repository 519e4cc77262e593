# Objects: object constants compared with the input, object reason
# entries, object.get with defaults, keys that need quoting, arrays.
package riskpdp

deny contains {"reason": "object_match", "flag": "key_tracking"} if input.context.o == {"a": 1}

step_up contains {"reason": "object_field", "methods": ["face"]} if input.context.o.a == 1

step_up contains "no_o" if object.get(input.context, "o", {}) == {}

step_up contains "quoted_key" if input.context.o["b c"] == true

deny contains "pair" if input.context.arr == [1, "2"]

step_up contains {"reason": "purpose_unclear", "warning": "anti_fraud"} if {
	input.derived.outflow == true
	object.get(input.txn, "purpose", "") == ""
}
