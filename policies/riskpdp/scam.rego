# Anti-scam rules: what the user says about a money movement
# (context.user_statement), and what the service saw (context.
# third_party_guidance, context.remote_assistance). The phrase lists are
# data (config.scam), measured on a labelled corpus of statements
# (pdp/engine/testdata/scam_statements.jsonl, TestScamStatementCorpus).
package riskpdp

import data.riskpdp.config

# Someone guiding the user ("customer service told me to refund") is the
# classic scam pattern (000 §3.3, §4.1): keep the block and show an
# anti-fraud warning. Scam cases carry "flag": the sidecar flags them for
# follow-up ("key tracking").
scam := {"reason": "anti_scam_guidance", "warning": "anti_fraud", "flag": "key_tracking"}

# A statement that reads like a scam script, with nothing else pointing at
# one, is not proof: verify, show the anti-fraud warning, follow up.
scam_statement := {"reason": "scam_statement", "warning": "anti_fraud", "flag": "key_tracking"}

# The service determined that someone guides the user, or that the device
# is remotely assisted.
deny contains scam if {
	input.context.third_party_guidance == true
	input.derived.money == true
}

deny contains scam if {
	input.context.remote_assistance == true
	input.derived.money == true
}

# A scam statement and money leaving for a new destination, or a large
# amount (the VIP multiplier does not apply: it never relaxes a deny).
deny contains scam if {
	input.derived.money == true
	input.txn.destination_new == true
	scam_said
}

# A withdrawal's destination the sidecar does not know is new, whatever
# the caller says of it.
deny contains scam if {
	input.derived.destination_new == true
	scam_said
}

deny contains scam if {
	input.derived.money == true
	amount >= th.large
	scam_said
}

step_up contains scam_statement if {
	input.derived.money == true
	scam_said
}

# scam_said: the user's statement matches a scam phrase, or names an actor
# (customer service, the police, "someone") together with a request
# (transfer, a code, an app, a loan) and nothing that marks an ordinary
# refund or complaint. An exclusion never cancels a phrase.
scam_said if {
	is_string(input.context.user_statement)
	regex.match(scam_patterns.phrases, statement_text)
}

scam_said if {
	is_string(input.context.user_statement)
	regex.match(scam_patterns.actors, statement_text)
	regex.match(scam_patterns.requests, statement_text)
	not regex.match(scam_patterns.exclusions, statement_text)
}

# statement_text is the statement as phrases are matched: lower case,
# without whitespace, hyphens or underscores, so that "安 全 账 户",
# "Screen-Share" and "screen share" all read "安全账户" or "screenshare".
# The sidecar has already canonicalized it (NFKC: "ＡｎｙＤｅｓｋ" reads
# "AnyDesk", an ideographic space is a space). Plain replacements, not a
# regexp: the sidecar makes each once per request (~0.1 µs each; a regexp
# replacement over the statement costs several µs). The type guard lets
# the sidecar prove these calls cannot fail (it serves a rule whose
# errors it cannot place exactly as OPA does as written, not optimized).
statement_text := no_underscore if {
	is_string(input.context.user_statement)
	lowered := lower(input.context.user_statement)
	no_space := replace(lowered, " ", "")
	no_newline := replace(no_space, "\n", "")
	no_tab := replace(no_newline, "\t", "")
	no_return := replace(no_tab, "\r", "")
	no_hyphen := replace(no_return, "-", "")
	no_underscore := replace(no_hyphen, "_", "")
}

# scam_patterns holds one pattern per list of config.scam: its phrases
# without their spaces, any of which matches (the spaces are removed from
# the joined list: one call, not one per phrase, when OPA evaluates the
# policy as written). Phrases are literal text in lower case: letters,
# digits and spaces only (test_phrase_lists_are_normalized), so a pattern
# is an alternation of literals, which the sidecar runs as one scan of the
# statement for the whole list. Every spelling is listed: simplified and
# traditional characters. The patterns depend on the data only: the
# sidecar computes them once, at load.
scam_patterns[list] := replace(concat("|", phrases), " ", "") if {
	some list, phrases in config.scam
}
