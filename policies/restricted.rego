# Call-time rules for items whose sensitivity is listed in data.authz.restricted.sensitivities:
# business hours (skipped in exempt environments) AND a trusted client network. Time comes from the
# input (context.weekday/hour, computed by the sidecar in its policy time zone): the wasm runtime
# has no time builtins.
package mcp.authz

restricted_rule_applies if {
	item_level in data.authz.restricted.sensitivities
}

hours_exempt if {
	input.context.environment in data.authz.restricted.exempt_environments
}

within_business_hours if {
	hours := data.authz.restricted.business_hours
	input.context.weekday in hours.weekdays
	is_number(input.context.hour)
	input.context.hour >= hours.start_hour
	input.context.hour < hours.end_hour
}

trusted_network if {
	some cidr in data.authz.restricted.trusted_networks
	net.cidr_contains(cidr, client_ip)
}

# The client address; an IPv4-mapped IPv6 address ("::ffff:10.0.0.7", what a dual-stack socket
# reports for an IPv4 client) is read as the IPv4 address.
client_ip := ipv4 if {
	startswith(lower(input.context.client_ip), "::ffff:")
	parts := split(input.context.client_ip, ":")
	count(parts) == 4
	ipv4 := parts[3]
	contains(ipv4, ".")
} else := input.context.client_ip

deny_reasons contains msg if {
	restricted_rule_applies
	is_object(data.authz.restricted.business_hours)
	not hours_exempt
	not within_business_hours
	msg := sprintf("%s %ss are only available %s", [item_level, item_kind, business_hours_label])
}

deny_reasons contains msg if {
	restricted_rule_applies
	is_array(data.authz.restricted.trusted_networks)
	not trusted_network
	msg := sprintf("%s %ss require a trusted network", [item_level, item_kind])
}

# ---------------------------------------------------------------------------
# "Mon–Fri 08:00–18:00 UTC", built from data.authz.restricted.business_hours
# ---------------------------------------------------------------------------

weekday_names := ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

default business_hours_label := "during business hours"

business_hours_label := sprintf("%s %s–%s %s", [business_days_label, clock(hours.start_hour), clock(hours.end_hour), business_timezone]) if {
	hours := data.authz.restricted.business_hours
}

# A contiguous run of days reads "Mon–Fri", anything else "Mon, Wed, Fri".
business_days_label := sprintf("%s–%s", [weekday_names[first], weekday_names[last]]) if {
	days := sort({d | some d in data.authz.restricted.business_hours.weekdays})
	count(days) > 1
	first := days[0]
	last := days[count(days) - 1]
	last - first == count(days) - 1
} else := concat(", ", [weekday_names[d] | some d in sort(data.authz.restricted.business_hours.weekdays)])

# The sidecar's time zone (the one hour/weekday were computed in), else the one data documents.
business_timezone := tz if {
	tz := input.context.timezone
	is_string(tz)
	tz != ""
} else := data.authz.restricted.business_hours.timezone

clock(h) := sprintf("0%v:00", [h]) if {
	h < 10
} else := sprintf("%v:00", [h])
