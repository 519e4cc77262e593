# Policy data check. The sidecar evaluates data_errors once, without input,
# whenever it prepares a policy set (start, file reload, bundle activation,
# shadow policies, a `pdp replay` candidate): a message (or an evaluation
# error) refuses the set, and the serving revision keeps deciding. `opa
# test` holds the shipped data to it (data_errors_test.rego).
#
# The types live in a JSON Schema stored as data next to the data it
# describes: schemas/config/data.json is data.riskpdp.schemas.config, the
# schema of data.riskpdp.config (config/data.json). It travels with the
# policy, in a directory and in a bundle alike. A missing schema is an
# error, never a skipped check.
package riskpdp

import data.riskpdp.config

config_schema := data.riskpdp.schemas.config

# Through helpers: `not is_object(x)` is false, not true, when x is
# undefined (the compiler evaluates x outside the negation).
schema_is_object if is_object(config_schema)

config_is_object if is_object(config)

data_errors contains "data.riskpdp.schemas.config: missing or not an object (schemas/config/data.json)" if {
	not schema_is_object
}

data_errors contains "data.riskpdp.config: missing or not an object (config/data.json)" if not config_is_object

# config_check is json.match_schema's answer: [valid, errors].
config_check := json.match_schema(config, config_schema) if {
	config_is_object
	schema_is_object
}

data_errors contains sprintf("%s: %s", [config_field(e.field), e.desc]) if {
	some e in config_check[1]
}

config_field(field) := "data.riskpdp.config" if field == "(Root)"

config_field(field) := concat(".", ["data.riskpdp.config", field]) if field != "(Root)"

# --- what the schema cannot say, checked on data of the schema's shape -----

# The schema's pattern admits "0s" and values past time.Duration's range.
data_errors contains sprintf("data.riskpdp.config.%s: want a positive duration that fits in 290 years, got %q", [path, d]) if {
	config_check[0]
	some path, d in {
		"freeze.temporary_duration": config.freeze.temporary_duration,
		"freeze.probation_duration": config.freeze.probation_duration,
		"conditional_release.duration": config.conditional_release.duration,
	}
	not positive_duration(d)
}

# positive_duration is undefined (not an error) for a duration that does not
# parse: opa test evaluates without strict built-in errors.
positive_duration(d) if time.parse_duration_ns(d) > 0

# The thresholds and prices are in the base currency: its rate is 1.
data_errors contains sprintf("data.riskpdp.config.rates: the base currency %s must have the rate 1", [config.base_currency]) if {
	config_check[0]
	not config.rates[config.base_currency] == 1
}
