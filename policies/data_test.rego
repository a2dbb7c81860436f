# Sanity checks on data.json, so an edit that would silently weaken the policy fails the tests.
package mcp.authz_test

levels := data.authz.sensitivity_levels

test_data_sensitivity_levels_are_unique if {
	count({l | some l in levels}) == count(levels)
	data.authz.default_sensitivity in levels
}

test_data_every_role_is_well_formed if {
	bad := [name |
		some name, role in data.authz.roles
		not role_well_formed(role)
	]
	bad == []
}

role_well_formed(role) if {
	role.clearance in levels
	is_array(role.tools)
	is_boolean(role.destructive)
	is_boolean(role.cross_tenant)
	role.rate_limit.capacity > 0
	role.rate_limit.refill_per_second > 0
	every_cap_is_a_number(role)
}

every_cap_is_a_number(role) if {
	bad := [c |
		some _, args in object.get(role, "argument_limits", {})
		some c in args
		not is_number(c)
	]
	bad == []
}

test_data_every_catalog_item_has_a_known_sensitivity if {
	bad := [name |
		some section in ["tools", "prompts", "resources"]
		some name, item in data.authz.catalog[section]
		not item.sensitivity in levels
	]
	bad == []
}

test_data_restricted_rule_is_complete if {
	rules := data.authz.restricted
	every_known := [s | some s in rules.sensitivities; not s in levels]
	every_known == []
	count(rules.trusted_networks) > 0
	rules.business_hours.start_hour < rules.business_hours.end_hour
	data.authz.default_rate_limit.capacity > 0
}

test_data_roles_match_the_documented_tiers if {
	data.authz.roles.guest.clearance == "public"
	data.authz.roles.user.clearance == "internal"
	data.authz.roles.analyst.clearance == "confidential"
	data.authz.roles.premium.clearance == "confidential"
	data.authz.roles.admin.clearance == "restricted"
	[r | some r, role in data.authz.roles; role.destructive == true] == ["admin"]
	[r | some r, role in data.authz.roles; role.cross_tenant == true] == ["admin"]
}
