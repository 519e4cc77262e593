# Score rules: over what the WASM scoring plugins answered (input.scores,
# one entry per plugin that answered; an open-mode plugin that failed is
# absent, which these rules read as "no signal").
package riskpdp

import data.riskpdp.config

# The trained model ("AI dynamic scoring"): a high fraud probability asks
# for a face check; a very high one on a money movement keeps the block.
step_up contains "model_score_high" if {
	input.scores.fraud_model.score >= config.scores.step_up
}

deny contains {"reason": "model_score_very_high", "flag": "key_tracking"} if {
	input.derived.money == true
	input.scores.fraud_model.score >= config.scores.deny
}

# A fraud model that is configured but did not answer (a fault, a
# quarantine) could have denied a money movement: verify instead of letting
# it through unscored.
step_up contains "model_unavailable" if {
	input.derived.money == true
	input.scores_unavailable.fraud_model == true
}

# Spending that departs sharply from the account's habit (long-term small
# daily goods → sudden large digital goods).
step_up contains "habit_deviation" if {
	input.derived.money == true
	input.scores.habit_deviation.score >= config.scores.step_up
}

step_up contains "device_risk" if {
	input.scores.device_risk.score >= config.scores.step_up
}

# Bursts of operations the velocity plugin scores as unusual.
step_up contains "velocity_burst" if {
	input.derived.money == true
	input.scores.velocity_burst.score >= config.scores.step_up
}
