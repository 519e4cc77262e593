package riskpdp_test

with_scores(req, scores) := object.union(req, {"scores": scores})

test_no_scores_no_signal if {
	count(step_up_reasons(payment(120))) == 0
	count(step_up_reasons(with_scores(payment(120), {}))) == 0
}

test_model_score if {
	"model_score_high" in step_up_reasons(with_scores(payment(120), {"fraud_model": {"score": 0.7, "reasons": []}}))
	not "model_score_high" in step_up_reasons(with_scores(payment(120), {"fraud_model": {"score": 0.69, "reasons": []}}))
	"model_score_very_high" in deny_reasons(with_scores(payment(120), {"fraud_model": {"score": 0.97, "reasons": ["amount_vs_habit"]}}))
	not "model_score_very_high" in deny_reasons(with_scores(login, {"fraud_model": {"score": 0.97, "reasons": []}}))
}

test_habit_deviation if {
	scores := {"habit_deviation": {"score": 0.93, "reasons": ["amount_far_above_habit", "high_risk_category_shift"]}}
	"habit_deviation" in step_up_reasons(with_scores(payment(120), scores))
	not "habit_deviation" in step_up_reasons(with_scores(login, scores))
}

test_device_risk if {
	"device_risk" in step_up_reasons(with_scores(login, {"device_risk": {"score": 0.9, "reasons": ["shared_device"]}}))
	not "device_risk" in step_up_reasons(with_scores(login, {"device_risk": {"score": 0.5, "reasons": ["new_device_foreign_ip"]}}))
}

test_velocity_burst_score_steps_up if {
	"velocity_burst" in step_up_reasons(with_scores(payment(120), {"velocity_burst": {"score": 0.8, "reasons": ["burst"]}}))
	not "velocity_burst" in step_up_reasons(with_scores(payment(120), {"velocity_burst": {"score": 0.2, "reasons": []}}))
}
