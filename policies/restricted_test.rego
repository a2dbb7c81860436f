# Restricted items: business hours, exempt environments, trusted networks.
package mcp.authz_test

hours_reason := "restricted tools are only available Mon–Fri 08:00–18:00 UTC"

network_reason := "restricted tools require a trusted network"

sql := {"query": "select 1"}

test_restricted_inside_hours_allowed if {
	allowed(call_at(["admin"], "run_sql", sql, at({"hour": 8})))
	allowed(call_at(["admin"], "run_sql", sql, at({"hour": 17, "minute": 59, "weekday": 5})))
}

test_restricted_before_hours_denied if {
	d := decide(call_at(["admin"], "run_sql", sql, at({"hour": 7, "minute": 59})))
	d.allow == false
	d.reasons == [hours_reason]
}

test_restricted_at_end_hour_denied if {
	denied_with(call_at(["admin"], "run_sql", sql, at({"hour": 18, "minute": 0})), hours_reason)
}

test_restricted_on_weekend_denied if {
	denied_with(call_at(["admin"], "run_sql", sql, at({"weekday": 6})), hours_reason)
	denied_with(call_at(["admin"], "run_sql", sql, at({"weekday": 0})), hours_reason)
}

test_restricted_without_clock_fails_closed if {
	ctx := {"client_ip": "10.0.0.7", "environment": "prod"}
	denied_with(call_at(["admin"], "run_sql", sql, ctx), hours_reason)
	denied_with(call_at(["admin"], "run_sql", sql, at({"hour": "10"})), hours_reason)
}

test_hours_reason_names_the_sidecar_timezone if {
	denied_with(call_at(["admin"], "run_sql", sql, at({"weekday": 0, "timezone": "Europe/Berlin"})), "restricted tools are only available Mon–Fri 08:00–18:00 Europe/Berlin")
}

test_hours_reason_follows_data if {
	bh := {"weekdays": [1, 3, 5], "start_hour": 9, "end_hour": 17}
	denied_with(call_at(["admin"], "run_sql", sql, at({"weekday": 2})), "restricted tools are only available Mon, Wed, Fri 09:00–17:00 UTC") with data.authz.restricted.business_hours as bh
}

test_exempt_environment_skips_hours_only if {
	allowed(call_at(["admin"], "run_sql", sql, at({"weekday": 6, "hour": 3, "environment": "dev"})))
	d := decide(call_at(["admin"], "run_sql", sql, at({"weekday": 6, "environment": "dev", "client_ip": "203.0.113.5"})))
	d.allow == false
	d.reasons == [network_reason]
}

test_untrusted_ipv4_denied if {
	d := decide(call_at(["admin"], "run_sql", sql, at({"client_ip": "203.0.113.5"})))
	d.allow == false
	d.reasons == [network_reason]
	allowed(call_at(["admin"], "run_sql", sql, at({"client_ip": "192.168.1.20"})))
	allowed(call_at(["admin"], "run_sql", sql, at({"client_ip": "172.20.0.3"})))
}

test_untrusted_ipv6_denied if {
	denied_with(call_at(["admin"], "run_sql", sql, at({"client_ip": "2001:db8::1"})), network_reason)
	allowed(call_at(["admin"], "run_sql", sql, at({"client_ip": "::1"})))
}

test_ipv4_mapped_ipv6_client_is_read_as_ipv4 if {
	allowed(call_at(["admin"], "run_sql", sql, at({"client_ip": "::ffff:10.0.0.7"})))
	allowed(call_at(["admin"], "run_sql", sql, at({"client_ip": "::FFFF:127.0.0.1"})))
	denied_with(call_at(["admin"], "run_sql", sql, at({"client_ip": "::ffff:203.0.113.5"})), network_reason)
	denied_with(call_at(["admin"], "run_sql", sql, at({"client_ip": "::ffff:cb00:7105"})), network_reason)
}

test_missing_or_bad_client_ip_denied if {
	denied_with(call_at(["admin"], "run_sql", sql, object.remove(office_hours, ["client_ip"])), network_reason)
	denied_with(call_at(["admin"], "run_sql", sql, at({"client_ip": "not-an-ip"})), network_reason)
}

test_outside_hours_and_untrusted_gives_both_reasons_sorted if {
	d := decide(call_at(["admin"], "run_sql", sql, at({"weekday": 0, "client_ip": "203.0.113.5"})))
	d.allow == false
	d.reasons == [hours_reason, network_reason]
}

test_non_restricted_tools_ignore_hours_and_network if {
	allowed(call_at(["guest"], "echo", {"text": "hi"}, at({"weekday": 0, "hour": 3, "client_ip": "203.0.113.5"})))
	allowed(call_at(["analyst"], "read_customer", {"tenant": "acme"}, at({"weekday": 6, "client_ip": "2001:db8::1"})))
}

test_restricted_rule_applies_to_resources if {
	res := {"sensitivity": "restricted"}
	inp := resource_input(["admin"], "resources/read", "docs://handbook")
	allowed(inp) with data.authz.catalog.resources["docs://handbook"] as res
	inp_weekend := object.union(inp, {"context": at({"weekday": 6})})
	denied_with(inp_weekend, "restricted resources are only available Mon–Fri 08:00–18:00 UTC") with data.authz.catalog.resources["docs://handbook"] as res
}
