# Unicode strings: NFC and NFD spellings, fullwidth forms (the decoder
# reads user_statement as NFKC), case mapping, counts in code points.
package riskpdp

step_up contains "nfc" if input.context.name == "café"

step_up contains "nfd" if input.context.name == "cafe\u0301"

deny contains "anydesk" if contains(input.context.user_statement, "AnyDesk")

step_up contains "upper" if upper(input.context.name) == "CAFÉ"

step_up contains "prefix" if regex.match("^caf", input.context.name)

step_up contains "four" if count(input.context.name) == 4

step_up contains "cjk_category" if input.txn.category == "数码"

step_up contains "in_set" if input.context.name in {"café", "naïve"}

deny contains "fullwidth_uid" if input.uid == "ｕ１"
