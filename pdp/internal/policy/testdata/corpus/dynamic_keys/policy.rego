# Partial sets whose elements are objects with values from the input.
package riskpdp

deny contains {"reason": input.context.reason} if is_string(input.context.reason)

obligations contains {"type": "flag", "kind": input.context.kind} if input.context.kind in {"key_tracking", "review"}
