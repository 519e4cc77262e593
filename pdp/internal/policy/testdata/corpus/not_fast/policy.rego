# Outside the fast path's fragment: a comprehension, `with`, iteration,
# a reference into a computed value, a key computed by a function, set
# operations on the input. The sidecar serves the set with OPA's
# evaluator, on the same answers.
package riskpdp

step_up contains "many_tags" if count([x | some x in input.context.tags]) > 1

as_u if input.uid == "u"

step_up contains "with" if as_u with input.uid as "u"

deny contains "tag" if {
	some t in input.context.tags
	t == "bad"
}

step_up contains "doc_kind" if {
	doc := json.unmarshal(input.context.doc)
	doc.kind == "x"
}

step_up contains "second_b" if split(input.context.s, ",")[1] == "b"

reason(c) := sprintf("currency_%s", [lower(c)])

step_up contains reason(input.txn.currency) if input.txn.currency == "EUR"

step_up contains "bad_pair" if count({"KP", "IR"} & {input.device.ip_country, input.account.home_country}) > 0
