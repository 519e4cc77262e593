# Support rules: helper rules with several bodies, used positively and
# under `not`, one built on others.
package riskpdp

trusted if {
	input.device.new == false
	input.derived.amount_base < 1000
}

trusted if input.reputation.uid.allowed == true

known_place if input.derived.ip_domestic == true

known_place if {
	input.device.ip_country == "SG"
	not input.derived.ip_foreign
}

safe if {
	trusted
	known_place
}

step_up contains "untrusted" if {
	input.derived.money == true
	not trusted
}

deny contains "unsafe_large" if {
	input.derived.amount_base >= 5000
	not safe
}

step_up contains "trusted_elsewhere" if {
	trusted
	not known_place
}
