package riskpdp_test

import data.riskpdp

# patched is the shipped config with JSON patch operations applied.
patched(ops) := json.patch(data.riskpdp.config, ops)

# errors_with is what data_errors reports for config.
errors_with(config) := errs if {
	errs := riskpdp.data_errors with data.riskpdp.config as config
}

# reports holds when data_errors names field (a prefix of a message) for
# config.
reports(config, field) if {
	some msg in errors_with(config)
	startswith(msg, field)
}

test_shipped_data_has_no_errors if {
	count(riskpdp.data_errors) == 0
}

test_string_threshold_is_refused if {
	reports(patched([{"op": "replace", "path": "/thresholds/medium", "value": "2000"}]), "data.riskpdp.config.thresholds.medium: Invalid type")
}

test_missing_required_key_is_refused if {
	reports(patched([{"op": "remove", "path": "/vip_multiplier"}]), "data.riskpdp.config: vip_multiplier is required")
	reports(patched([{"op": "remove", "path": "/thresholds/large"}]), "data.riskpdp.config.thresholds: large is required")
	reports(patched([{"op": "remove", "path": "/base_currency"}]), "data.riskpdp.config: base_currency is required")
}

test_unknown_key_is_refused if {
	reports(patched([{"op": "add", "path": "/vip_multiplyer", "value": 3}]), "data.riskpdp.config: Additional property vip_multiplyer")
	reports(patched([{"op": "add", "path": "/velocity/max_txn_per_day", "value": 3}]), "data.riskpdp.config.velocity: Additional property max_txn_per_day")
}

test_negative_threshold_is_refused if {
	reports(patched([{"op": "replace", "path": "/thresholds/large", "value": -700}]), "data.riskpdp.config.thresholds.large: Must be greater than 0")
}

test_bad_duration_is_refused if {
	reports(patched([{"op": "replace", "path": "/freeze/temporary_duration", "value": "30 minutes"}]), "data.riskpdp.config.freeze.temporary_duration: Does not match pattern")
}

# Each case breaks the shipped data in one way; data_errors must name the
# field. A case it misses is printed.
bad_data := {
	"zero threshold": [[{"op": "replace", "path": "/thresholds/large", "value": 0}], "data.riskpdp.config.thresholds.large"],
	"thresholds per currency": [[{"op": "add", "path": "/thresholds/USD", "value": {"medium": 1, "large": 2, "extreme": 3, "cross_border": 1, "probation_large": 1}}], "data.riskpdp.config.thresholds: Additional property USD"],
	"null threshold": [[{"op": "replace", "path": "/thresholds/extreme", "value": null}], "data.riskpdp.config.thresholds.extreme"],
	"threshold object": [[{"op": "replace", "path": "/thresholds", "value": 5000}], "data.riskpdp.config.thresholds"],
	"base currency lower-case": [[{"op": "replace", "path": "/base_currency", "value": "cny"}], "data.riskpdp.config.base_currency"],
	"base currency without rate 1": [[{"op": "replace", "path": "/base_currency", "value": "USD"}], "data.riskpdp.config.rates: the base currency USD must have the rate 1"],
	"string rate": [[{"op": "replace", "path": "/rates/USD", "value": "7.1"}], "data.riskpdp.config.rates.USD"],
	"zero rate": [[{"op": "replace", "path": "/rates/EUR", "value": 0}], "data.riskpdp.config.rates.EUR"],
	"rate for a lower-case code": [[{"op": "add", "path": "/rates/jpy", "value": 0.05}], "data.riskpdp.config.rates: Additional property jpy"],
	"rates missing": [[{"op": "remove", "path": "/rates"}], "data.riskpdp.config: rates is required"],
	"string category price": [[{"op": "replace", "path": "/category_price/phone", "value": "6000"}], "data.riskpdp.config.category_price.phone"],
	"category with spaces": [[{"op": "add", "path": "/category_price/gift card", "value": 100}], "data.riskpdp.config.category_price: Additional property gift card"],
	"VIP multiplier below 1": [[{"op": "replace", "path": "/vip_multiplier", "value": 0.5}], "data.riskpdp.config.vip_multiplier"],
	"cap multiplier below 1": [[{"op": "replace", "path": "/conditional_release/daily_cap_multiplier", "value": 0.9}], "data.riskpdp.config.conditional_release.daily_cap_multiplier"],
	"price factor string": [[{"op": "replace", "path": "/category_price_factor", "value": "3"}], "data.riskpdp.config.category_price_factor"],
	"fractional count": [[{"op": "replace", "path": "/velocity/max_txn_per_minute", "value": 5.5}], "data.riskpdp.config.velocity.max_txn_per_minute"],
	"zero lockout": [[{"op": "replace", "path": "/velocity/pin_lockout_failures", "value": 0}], "data.riskpdp.config.velocity.pin_lockout_failures"],
	"boolean day count": [[{"op": "replace", "path": "/new_account_days", "value": true}], "data.riskpdp.config.new_account_days"],
	"score above 1": [[{"op": "replace", "path": "/scores/deny", "value": 1.5}], "data.riskpdp.config.scores.deny"],
	"negative score": [[{"op": "replace", "path": "/scores/step_up", "value": -0.1}], "data.riskpdp.config.scores.step_up"],
	"score as percent string": [[{"op": "replace", "path": "/scores/step_up", "value": "70%"}], "data.riskpdp.config.scores.step_up"],
	"duration as a number": [[{"op": "replace", "path": "/freeze/probation_duration", "value": 86400}], "data.riskpdp.config.freeze.probation_duration"],
	"negative duration": [[{"op": "replace", "path": "/conditional_release/duration", "value": "-24h"}], "data.riskpdp.config.conditional_release.duration"],
	"duration without unit": [[{"op": "replace", "path": "/freeze/temporary_duration", "value": "30"}], "data.riskpdp.config.freeze.temporary_duration"],
	"zero duration": [[{"op": "replace", "path": "/freeze/temporary_duration", "value": "0s"}], "data.riskpdp.config.freeze.temporary_duration"],
	"duration past 290 years": [[{"op": "replace", "path": "/conditional_release/duration", "value": "9999999999h"}], "data.riskpdp.config.conditional_release.duration"],
	"unknown method": [[{"op": "replace", "path": "/methods/large_amount", "value": ["email"]}], "data.riskpdp.config.methods.large_amount"],
	"method as a string": [[{"op": "replace", "path": "/methods/large_amount", "value": "face"}], "data.riskpdp.config.methods.large_amount"],
	"no method": [[{"op": "replace", "path": "/methods/large_amount", "value": []}], "data.riskpdp.config.methods.large_amount"],
	"repeated method": [[{"op": "replace", "path": "/methods/large_amount", "value": ["face", "face"]}], "data.riskpdp.config.methods.large_amount"],
	"reason in capitals": [[{"op": "add", "path": "/methods/Large_Amount", "value": ["face"]}], "data.riskpdp.config.methods: Additional property Large_Amount"],
	"empty keyword": [[{"op": "add", "path": "/scam_keywords/-", "value": ""}], "data.riskpdp.config.scam_keywords.17"],
	"blank keyword": [[{"op": "add", "path": "/scam_keywords/-", "value": " \t"}], "data.riskpdp.config.scam_keywords.17"],
	"keyword number": [[{"op": "add", "path": "/scam_keywords/-", "value": 110}], "data.riskpdp.config.scam_keywords.17"],
	"no keywords": [[{"op": "replace", "path": "/scam_keywords", "value": []}], "data.riskpdp.config.scam_keywords"],
	"high-value flag as string": [[{"op": "replace", "path": "/high_value_categories/phone", "value": "yes"}], "data.riskpdp.config.high_value_categories.phone"],
	"config not an object": [[{"op": "replace", "path": "", "value": [1]}], "data.riskpdp.config: missing or not an object"],
}

test_each_bad_value_is_named if {
	missed := {name | some name, c in bad_data; not reports(patched(c[0]), c[1])}
	print("data_errors missed:", missed)
	count(missed) == 0
}

test_accepted_shapes if {
	# A new currency comes with its rate alone; a category with its price.
	ok := patched([
		{"op": "add", "path": "/rates/BRL", "value": 1.3},
		{"op": "add", "path": "/category_price/toys", "value": 150},
		{"op": "add", "path": "/methods/new_reason", "value": ["sms", "face"]},
		{"op": "replace", "path": "/freeze/temporary_duration", "value": "1h30m"},
		{"op": "replace", "path": "/scores/step_up", "value": 0},
	])
	count(errors_with(ok)) == 0
}

test_config_not_an_object_is_refused if {
	"data.riskpdp.config: missing or not an object (config/data.json)" in errors_with(null)
}

test_missing_schema_is_refused if {
	"data.riskpdp.schemas.config: missing or not an object (schemas/config/data.json)" in riskpdp.data_errors with data.riskpdp.schemas as {}
}
