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

# Every key of data.json is one the rules read (or a documented description): a misspelt key is not an
# error to Rego, it is a rule that silently does not apply. "deny_tool" denies nothing, a resource's
# "matches" scopes no URI to its tenant, a tool's "scope" asks for no OAuth scope.
known_keys := {
	"authz": {
		"always_allowed_methods", "sensitivity_levels", "default_sensitivity", "default_tenant_argument",
		"default_rate_limit", "mask_arguments_always", "restricted", "audit", "roles", "catalog",
	},
	"restricted": {"sensitivities", "business_hours", "trusted_networks", "exempt_environments"},
	"business_hours": {"weekdays", "start_hour", "end_hour", "timezone"},
	"audit": {"full_sensitivities"},
	"rate_limit": {"capacity", "refill_per_second"},
	"role": {
		"description", "clearance", "tools", "deny_tools", "prompts", "deny_prompts", "resources",
		"deny_resources", "destructive", "cross_tenant", "rate_limit", "argument_limits",
	},
	"catalog": {"tools", "prompts", "resources"},
	"tools": {
		"sensitivity", "destructive", "mask_arguments", "tenant_argument", "tenant_required", "scopes",
		"description", "read_only", "idempotent", "arguments",
	},
	"prompts": {"sensitivity", "tenant_argument", "tenant_required", "description"},
	"resources": {"sensitivity", "match", "tenant_argument", "description"},
}

# "where: key" for every key of data.authz that no rule reads.
unknown_data_keys contains concat("", [where, ": ", k]) if {
	some [where, obj, kind] in keyed_objects
	some k, _ in obj
	not k in known_keys[kind]
}

keyed_objects contains ["authz", data.authz, "authz"]

keyed_objects contains ["restricted", data.authz.restricted, "restricted"]

keyed_objects contains ["restricted.business_hours", data.authz.restricted.business_hours, "business_hours"]

keyed_objects contains ["audit", data.authz.audit, "audit"]

keyed_objects contains ["default_rate_limit", data.authz.default_rate_limit, "rate_limit"]

keyed_objects contains ["catalog", data.authz.catalog, "catalog"]

keyed_objects contains [concat(".", ["roles", name]), role, "role"] if some name, role in data.authz.roles

keyed_objects contains [concat(".", ["roles", name, "rate_limit"]), role.rate_limit, "rate_limit"] if {
	some name, role in data.authz.roles
}

keyed_objects contains [concat(".", ["catalog", section, name]), item, section] if {
	some section in ["tools", "prompts", "resources"]
	some name, item in data.authz.catalog[section]
}

test_data_has_no_unknown_keys if {
	print("keys of data.json no rule reads (misspelt?):", unknown_data_keys)
	unknown_data_keys == set()
}

test_data_unknown_keys_are_named if {
	found := unknown_data_keys with data.authz.roles.user.deny_tool as ["run_sql"]
		with data.authz.catalog.resources["crm://{tenant}/customers/{id}"].matches as ["crm://*/customers/*"]
	{"roles.user: deny_tool", "catalog.resources.crm://{tenant}/customers/{id}: matches"} - found == set()
}

# The catalog's flags are booleans: the rules only take true, so "tenant_required": "true" would require
# nothing, silently.
non_boolean_catalog_flags contains concat("", ["catalog.", section, ".", name, ": ", flag]) if {
	some section in ["tools", "prompts"]
	some name, item in data.authz.catalog[section]
	some flag in ["destructive", "tenant_required"]
	not is_boolean(object.get(item, flag, false))
}

test_data_catalog_flags_are_booleans if {
	non_boolean_catalog_flags == set()
	found := non_boolean_catalog_flags with data.authz.catalog.prompts.summarize_customer.tenant_required as "true"
	found == {"catalog.prompts.summarize_customer: tenant_required"}
}

# The example roles (guest, user, analyst, premium, admin): a policy for another server replaces this test.
test_data_roles_match_the_documented_tiers if {
	data.authz.roles.guest.clearance == "public"
	data.authz.roles.user.clearance == "internal"
	data.authz.roles.analyst.clearance == "confidential"
	data.authz.roles.premium.clearance == "confidential"
	data.authz.roles.admin.clearance == "restricted"
	[r | some r, role in data.authz.roles; role.destructive == true] == ["admin"]
	[r | some r, role in data.authz.roles; role.cross_tenant == true] == ["admin"]
}
