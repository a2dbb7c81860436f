# Call-time rules for items whose sensitivity is listed in data.authz.restricted.sensitivities:
# business hours (skipped in exempt environments) AND a trusted client network. Time comes from the
# input (context.weekday/hour, computed by the sidecar in its policy time zone): the wasm runtime
# has no time builtins.
package mcp.authz

call_denials contains msg if {
	level := item_level
	level in data.authz.restricted.sensitivities
	some msg in restricted_denials(level, kind_words(item_kind), input)
}

restricted_denials(level, kind, request) := {msg |
	some rule in ["hours", "network"]
	msg := restricted_denial(rule, level, kind, request)
}

restricted_denial("hours", level, kind, request) := msg if {
	is_object(data.authz.restricted.business_hours)
	not hours_exempt(request)
	not within_business_hours(request)
	msg := concat("", [level, " ", kind, "s are only available ", business_hours_label])
}

restricted_denial("network", level, kind, request) := msg if {
	is_array(data.authz.restricted.trusted_networks)
	not trusted_client(request)
	msg := concat("", [level, " ", kind, "s require a trusted network"])
}

# The functions below take `input` (a function call with an undefined argument is undefined, so
# `not f(input.context)` would never hold for a request without a context).

hours_exempt(request) if {
	request.context.environment in data.authz.restricted.exempt_environments
}

within_business_hours(request) if {
	hours := data.authz.restricted.business_hours
	context := request.context
	context.weekday in hours.weekdays
	is_number(context.hour)
	context.hour >= hours.start_hour
	context.hour < hours.end_hour
}

trusted_client(request) if {
	ip := client_ip(request.context.client_ip)
	some cidr in data.authz.restricted.trusted_networks
	net.cidr_contains(cidr, ip)
}

# The client address; an IPv4-mapped IPv6 address ("::ffff:10.0.0.7", what a dual-stack socket
# reports for an IPv4 client) is read as the IPv4 address.
client_ip(ip) := ipv4 if {
	startswith(ip, "::")
	startswith(lower(ip), "::ffff:")
	parts := split(ip, ":")
	count(parts) == 4
	ipv4 := parts[3]
	contains(ipv4, ".")
} else := ip

# ---------------------------------------------------------------------------
# "Mon–Fri 08:00–18:00 UTC", built from data.authz.restricted.business_hours (for messages)
# ---------------------------------------------------------------------------

weekday_names := ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

default business_hours_label := "during business hours"

business_hours_label := concat("", [business_days_label, " ", clock(hours.start_hour), "–", clock(hours.end_hour), " ", business_timezone]) if {
	hours := data.authz.restricted.business_hours
}

# A contiguous run of days reads "Mon–Fri", anything else "Mon, Wed, Fri".
business_days_label := concat("–", [weekday_names[first], weekday_names[last]]) if {
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

clock(h) := concat("", ["0", number_text(h), ":00"]) if {
	is_number(h)
	h < 10
} else := concat("", [number_text(h), ":00"]) if {
	is_number(h)
} else := sprintf("0%v:00", [h]) if {
	h < 10
} else := sprintf("%v:00", [h])
