package riskpdp_test

import data.riskpdp

test_every_step_up_reason_has_methods if {
	req := with_derived(with_txn(payment(9000), {"category": "jewellery", "payment_method": "virtual_card"}), {"sensitive_change_hours": 1, "account_age_days": 1})
	reasons := step_up_reasons(req)
	count(reasons) >= 5
	every r in reasons {
		count(riskpdp.methods[r]) > 0
	}
}

test_methods_cover_every_reason_in_the_rules if {
	every r in {
		"new_device_foreign_ip", "risky_environment", "large_amount", "sensitive_change_before_large_amount",
		"new_account_large_amount", "high_value_category", "amount_above_category_price", "cross_border_order",
		"virtual_card",
	} {
		riskpdp.methods[r]
	}
}

test_missing_thresholds_step_up_every_payment if {
	"unsupported_currency" in step_up_reasons(payment(1)) with data.riskpdp.config.rates as {"USD": 7.1}
}
