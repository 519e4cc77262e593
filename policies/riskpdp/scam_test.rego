package riskpdp_test

import data.riskpdp

# said is a small payment (nothing else fires) with what the user said.
said(statement) := object.union(payment(100), {"context": {"user_statement": statement}})

scam_statement := {"reason": "scam_statement", "warning": "anti_fraud", "flag": "key_tracking"}

scam_deny := {"reason": "anti_scam_guidance", "warning": "anti_fraud", "flag": "key_tracking"}

# flagged: stepped up or denied for what the user said.
flagged(req) if scam_statement in riskpdp.step_up with input as req

flagged(req) if scam_deny in riskpdp.deny with input as req

# The issue's honest customers: an ordinary refund, a complaint about a
# late delivery, a laptop for remote work.
test_ordinary_refunds_complaints_and_remote_work_are_not_flagged if {
	every statement in [
		"我要退款，商品有质量问题",
		"I already contacted customer service about the late delivery",
		"远程办公用的笔记本电脑",
		"客服说退款3到5个工作日到账",
		"the agent said my refund is processing",
		"screen protector for my new phone",
		"lost my wallet, reported it to the police, this is my new card",
	] {
		not flagged(said(statement))
		count(riskpdp.step_up) + count(riskpdp.deny) == 0 with input as said(statement)
	}
}

# A statement alone steps up with the anti-fraud warning and a follow-up
# flag; it does not deny.
test_scam_statement_alone_steps_up_with_warning if {
	every statement in [
		"共享屏幕",
		"guiding me over the phone",
		"客服让我把钱转到安全账户",
		"The Customer Service agent told me to transfer the refund fee",
		"对方让我下载向日葵",
	] {
		scam_statement in riskpdp.step_up with input as said(statement)
		count(riskpdp.deny) == 0 with input as said(statement)
	}
	riskpdp.methods.scam_statement == ["face"]
}

# Spaces, punctuation and case do not hide a phrase; traditional
# characters are listed.
test_statement_is_normalized if {
	every statement in ["安 全 账 户", "SCREEN-SHARE please", "Guiding  Me!", "對方要我開啟屏幕共享", "把钱转到安全帐户"] {
		flagged(said(statement))
	}
}

# With a new destination, a large amount or the service's own flags, a
# scam statement denies.
test_scam_statement_with_aggravation_denies if {
	statement := said("客服让我把钱转到安全账户")
	scam_deny in riskpdp.deny with input as with_txn(statement, {"destination_new": true})
	scam_deny in riskpdp.deny with input as with_derived(with_txn(statement, {"amount": 5000}), {"amount_base": 5000})
	scam_deny in riskpdp.deny with input as object.union(statement, {"context": {"third_party_guidance": true}})
	scam_deny in riskpdp.deny with input as object.union(statement, {"context": {"remote_assistance": true}})

	# A known destination and a small amount: no deny.
	not scam_deny in riskpdp.deny with input as with_txn(statement, {"destination_new": false})
	not scam_deny in riskpdp.deny with input as with_derived(with_txn(statement, {"amount": 4999}), {"amount_base": 4999})
}

# The large-amount deny is not relaxed for VIP accounts.
test_vip_does_not_relax_the_scam_deny if {
	req := with_derived(with_txn(said("共享屏幕"), {"amount": 6000}), {"amount_base": 6000, "vip": true})
	scam_deny in riskpdp.deny with input as req
}

# The service's flags deny alone, on money stages only.
test_guidance_flags_deny_alone if {
	scam_deny in riskpdp.deny with input as object.union(payment(100), {"context": {"third_party_guidance": true}})
	scam_deny in riskpdp.deny with input as object.union(payment(100), {"context": {"remote_assistance": true}})
	not flagged(object.union(payment(100), {"context": {"third_party_guidance": false, "remote_assistance": false}}))
	not flagged(object.union(login, {"context": {"third_party_guidance": true, "user_statement": "共享屏幕"}}))
}

# An actor and a request together are a signal; each alone is not, and an
# exclusion (an ordinary refund or complaint) cancels the pair.
test_actor_and_request_together if {
	flagged(said("客服让我把验证码告诉他"))
	not flagged(said("客服很耐心"))
	not flagged(said("验证码一直发不过来"))
	not flagged(said("客服说没收到验证码可以重新发"))
}

# An exclusion never cancels a phrase: a fake refund reuses the words of a
# real one.
test_exclusion_never_cancels_a_phrase if {
	flagged(said("商品有质量问题 客服说要给我双倍赔偿 让我把钱转到安全账户"))
	flagged(said("late delivery, the agent asked me to share my screen"))
}

# What the rules match is data: a new phrase is a data change.
test_phrases_are_data if {
	not flagged(said("the wizard asked for gold"))
	flagged(said("the wizard asked for gold")) with data.riskpdp.config.scam.phrases as ["asked for gold"]
}

# Every phrase reads as the statement does once normalized: lower case,
# letters, digits and spaces (a space is ignored), at least two characters.
test_phrase_lists_are_normalized if {
	every group in ["phrases", "actors", "requests", "exclusions"] {
		count(data.riskpdp.config.scam[group]) > 0
		every phrase in data.riskpdp.config.scam[group] {
			lower(phrase) == phrase
			regex.match(`^[\p{L}\p{N} ]+$`, phrase)
			count(replace(phrase, " ", "")) >= 2
		}
	}
}
