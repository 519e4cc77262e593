package riskpdp_test

import data.riskpdp

test_decision_document_shape if {
	d := riskpdp.decision with input as payment(6000)
	"large_amount" in d.step_up
	count(d.deny) == 0
	d.methods.large_amount == ["face"]
	is_set(d.obligations)
}

test_every_step_up_reason_has_methods if {
	every r in step_up_reasons(with_derived(with_txn(payment(9000), {"category": "jewellery", "payment_method": "virtual_card"}), {"sensitive_change_hours": 1, "account_age_days": 1})) {
		count(riskpdp.config.methods[r]) > 0
	}
}

test_methods_cover_every_reason_in_the_rules if {
	every r in {"new_device_foreign_ip", "risky_environment", "large_amount", "sensitive_change_before_large_amount", "new_account_large_amount", "high_value_category", "amount_above_category_price", "cross_border_order", "virtual_card"} {
		riskpdp.config.methods[r]
	}
}

test_missing_config_makes_the_decision_undefined if {
	not riskpdp.decision with data.riskpdp.config as {}
	not riskpdp.decision with data.riskpdp.config.thresholds as {}
}
