# tools/call: grants, explicit denies, clearance, destructive tools, tenants, argument caps.
package mcp.authz_test

# --- Role grants -------------------------------------------------------------

test_guest_may_call_public_tools if {
	allowed(call(["guest"], "echo", {"text": "hi"}))
	allowed(call(["guest"], "list_products", {}))
}

test_guest_may_not_call_ungranted_tool if {
	denied_with(call(["guest"], "delete_customer", {"tenant": "acme", "id": "c-1"}), "role guest may not call tool delete_customer")
	denied_with(call(["guest"], "search_docs", {"query": "x"}), "role guest may not call tool search_docs")
}

test_wildcard_grant_covers_internal_tools if {
	allowed(call(["user"], "search_docs", {"query": "vpn"}))
	allowed(call(["user"], "create_ticket", {"tenant": "acme", "title": "t", "body": "b"}))
}

test_deny_tools_beats_wildcard_grant if {
	denied_with(call(["user"], "run_sql", {"query": "select 1"}), "role user may not call tool run_sql")
}

test_deny_tools_glob if {
	denied_with(call(["premium"], "delete_customer", {"tenant": "acme", "id": "c-1"}), "role premium may not call tool delete_customer")
	denied_with(call_as(with_clearance(["user"], "restricted"), "delete_anything", {}), "role user may not call tool delete_anything")
}

test_deny_from_any_role_wins_over_admin_grant if {
	d := decide(call(["admin", "user"], "run_sql", {"query": "select 1"}))
	d.allow == false
	d.reasons == ["role user may not call tool run_sql"]
	allowed(call(["admin"], "run_sql", {"query": "select 1"}))
}

test_analyst_grants_are_explicit if {
	allowed(call(["analyst"], "query_customer_data", {"tenant": "acme", "query": "q"}))
	denied_with(call(["analyst"], "create_ticket", {"tenant": "acme"}), "role analyst may not call tool create_ticket")
}

test_no_roles_means_no_tools if {
	d := decide(call([], "echo", {}))
	d.allow == false
	d.reasons == ["you have no role that may call tool echo"]
}

test_unknown_role_grants_nothing if {
	denied_with(call(["superuser"], "echo", {}), "role superuser may not call tool echo")
}

test_roles_label_lists_all_roles if {
	denied_with(call(["analyst", "guest"], "create_ticket", {}), "roles analyst, guest may not call tool create_ticket")
}

# --- Clearance ---------------------------------------------------------------

test_clearance_from_role_allows_confidential if {
	allowed(call(["analyst"], "read_customer", {"tenant": "acme", "id": "c-9"}))
}

test_clearance_too_low_denied if {
	d := decide(call(["user"], "read_customer", {"tenant": "acme", "id": "c-9"}))
	d.allow == false
	d.reasons == ["tool read_customer needs clearance confidential, you have internal"]
}

test_clearance_restricted_needed_for_export if {
	denied_with(call(["premium"], "export_customers", {"tenant": "acme"}), "tool export_customers needs clearance restricted, you have confidential")
}

test_explicit_subject_clearance_wins_over_role_default if {
	allowed(call_as(with_clearance(["user"], "confidential"), "read_customer", {"tenant": "acme"}))
	denied_with(call_as(with_clearance(["analyst"], "public"), "read_customer", {"tenant": "acme"}), "tool read_customer needs clearance confidential, you have public")
}

test_clearance_is_highest_role_default if {
	allowed(call(["guest", "analyst"], "read_customer", {"tenant": "acme"}))
}

test_unknown_clearance_fails_closed if {
	denied_with(call_as(with_clearance(["admin"], "top-secret"), "echo", {}), "tool echo needs clearance public, you have top-secret")
}

# --- Unknown tools -----------------------------------------------------------

# A tool missing from the catalog that the upstream lists as not destructive.
listed_safe := object.union(unseen_annotations, {"destructiveHint": false, "seen": true})

test_unknown_tool_gets_default_sensitivity if {
	d := decide(call_input(subject(["user"]), "brand_new_tool", {}, listed_safe, office_hours))
	d.allow == true
	d.sensitivity == "internal"

	# A role granted every tool but cleared below internal is refused for the clearance.
	public_all := object.union(data.authz.roles.guest, {"tools": ["*"]})
	guest := call_input(subject(["guest"]), "brand_new_tool", {}, listed_safe, office_hours)
	denied_with(guest, "tool brand_new_tool needs clearance internal, you have public") with data.authz.roles.guest as public_all
}

# Not listed (yet): the sidecar gives the MCP defaults, destructiveHint true, so only destructive roles.
test_unseen_tool_is_destructive if {
	denied_with(call(["user"], "brand_new_tool", {}), "role user may not call destructive tool brand_new_tool")
	allowed(call(["admin"], "brand_new_tool", {}))
}

test_default_sensitivity_is_data_driven if {
	denied_with(call(["user"], "brand_new_tool", {}), "tool brand_new_tool needs clearance confidential, you have internal") with data.authz.default_sensitivity as "confidential"
}

# --- Destructive tools -------------------------------------------------------

test_catalog_destructive_needs_destructive_role if {
	allowed(call(["admin"], "delete_customer", {"tenant": "acme", "id": "c-1"}))

	# premium denies delete_*: refused for that alone.
	denied_with(call(["premium"], "delete_customer", {"tenant": "acme", "id": "c-1"}), "role premium may not call tool delete_customer")

	# analyst is granted it (tools *) but not destructive ones.
	analyst_all := object.union(data.authz.roles.analyst, {"tools": ["*"], "clearance": "restricted"})
	denied_with(call(["analyst"], "delete_customer", {"tenant": "acme", "id": "c-1"}), "role analyst may not call destructive tool delete_customer") with data.authz.roles.analyst as analyst_all
}

test_annotation_only_destructive_unknown_tool if {
	inp := call_input(subject(["premium"]), "wipe_cache", {}, {"destructiveHint": true}, office_hours)
	d := decide(inp)
	d.allow == false
	d.reasons == ["role premium may not call destructive tool wipe_cache"]
	allowed(call_input(subject(["admin"]), "wipe_cache", {}, {"destructiveHint": true}, office_hours))
}

test_unknown_tool_is_destructive_unless_its_hints_say_otherwise if {
	# The MCP default: a hint left out, null or not a boolean means destructive.
	denied_with(call_input(subject(["premium"]), "wipe_cache", {}, {}, office_hours), "role premium may not call destructive tool wipe_cache")
	denied_with(call_input(subject(["premium"]), "wipe_cache", {}, {"destructiveHint": null}, office_hours), "role premium may not call destructive tool wipe_cache")
	denied_with(call_input(subject(["premium"]), "wipe_cache", {}, {"destructiveHint": "false"}, office_hours), "role premium may not call destructive tool wipe_cache")
	allowed(call_input(subject(["premium"]), "wipe_cache", {}, {"readOnlyHint": false, "destructiveHint": false}, office_hours))
}

test_read_only_tool_is_not_destructive if {
	# destructiveHint means something only when readOnlyHint is false (MCP).
	allowed(call_input(subject(["premium"]), "lookup", {}, {"readOnlyHint": true, "destructiveHint": true}, office_hours))
}

test_destructive_permission_from_any_role if {
	# Not a catalog tool, so only the annotation makes it destructive.
	inp := call_input(subject(["premium", "admin"]), "wipe_cache", {}, {"destructiveHint": true}, office_hours)
	allowed(inp)
}

# --- Tenant isolation --------------------------------------------------------

test_same_tenant_allowed if {
	allowed(call(["analyst"], "read_customer", {"tenant": "acme", "id": "c-9"}))
}

test_other_tenant_denied if {
	d := decide(call(["analyst"], "read_customer", {"tenant": "globex", "id": "c-9"}))
	d.allow == false
	d.reasons == ["argument tenant must be your tenant acme"]
}

test_prompt_other_tenant_denied if {
	inp := object.union(prompt_input(["analyst"], "summarize_customer"), {"action": {"arguments": {"tenant": "globex", "id": "c-4"}}})
	d := decide(inp)
	d.allow == false
	d.reasons == ["argument tenant must be your tenant acme"]
	allowed(object.union(prompt_input(["analyst"], "summarize_customer"), {"action": {"arguments": {"tenant": "acme", "id": "c-1"}}}))
}

test_prompt_tenant_argument_from_the_prompts_catalog if {
	# A prompt's own catalog entry names its tenant argument; a tool of the same name does not.
	catalog := object.union(data.authz.catalog, {
		"prompts": {"summarize_customer": {"tenant_argument": "org"}},
		"tools": {"summarize_customer": {"tenant_argument": "unrelated"}},
	})
	inp := object.union(prompt_input(["analyst"], "summarize_customer"), {"action": {"arguments": {"org": "globex"}}})
	d := decide(inp) with data.authz.catalog as catalog
	d.reasons == ["argument org must be your tenant acme"]
}

test_cross_tenant_role_may_address_other_tenants if {
	allowed(call(["admin"], "read_customer", {"tenant": "globex", "id": "c-9"}))
	allowed(call(["analyst", "admin"], "read_customer", {"tenant": "globex", "id": "c-9"}))
}

test_subject_without_tenant_may_not_name_one if {
	subj := object.union(subject(["analyst"]), {"tenant": null})
	denied_with(call_as(subj, "read_customer", {"tenant": "acme"}), "argument tenant is not allowed: your identity has no tenant")
	allowed(call_as(subj, "read_customer", {"id": "c-9"})) with data.authz.catalog.tools.read_customer.tenant_required as false
}

# A catalog item marked tenant_required (its upstream reads the tenant from its arguments, and without one
# may answer for every tenant) needs its tenant argument; a cross-tenant role may leave it out.
test_tenant_required_item_needs_its_tenant_argument if {
	d := decide(call(["analyst"], "read_customer", {"id": "c-9"}))
	d.allow == false
	d.reasons == ["argument tenant is required: read_customer is tenant-scoped"]
	denied_with(call_input(subject(["analyst"]), "read_customer", null, annotations("read_customer"), office_hours), "argument tenant is required: read_customer is tenant-scoped")
	allowed(call(["analyst"], "read_customer", {"tenant": "acme", "id": "c-9"}))
	allowed(call(["admin"], "read_customer", {"id": "c-9"}))
	allowed(call(["analyst", "admin"], "export_customers", {"limit": 10}))

	# Present with any value is present: the value is checked as ever.
	denied_with(call(["analyst"], "read_customer", {"tenant": false, "id": "c-9"}), "argument tenant must be your tenant acme")
	denied_with(call(["analyst"], "read_customer", {"tenant": null, "id": "c-9"}), "argument tenant must be your tenant acme")

	# An identity without a tenant can use no tenant-scoped item (unless cross-tenant).
	no_tenant := object.union(subject(["analyst"]), {"tenant": null})
	denied_with(call_as(no_tenant, "read_customer", {"id": "c-9"}), "argument tenant is required: read_customer is tenant-scoped, and your identity has no tenant")
	allowed(call_as(object.union(subject(["admin"]), {"tenant": null}), "read_customer", {"id": "c-9"}))

	# Only the flagged items, only the boolean true, and the item's own tenant argument.
	allowed(call(["analyst"], "search_docs", {"query": "q"}))
	allowed(call(["analyst"], "read_customer", {"id": "c-9"})) with data.authz.catalog.tools.read_customer.tenant_required as "true"
	denied_with(call(["guest"], "echo", {"text": "hi", "tenant": "acme"}), "argument org is required: echo is tenant-scoped") with data.authz.catalog.tools.echo as {"sensitivity": "public", "tenant_argument": "org", "tenant_required": true}
	allowed(call(["guest"], "echo", {"text": "hi", "org": "acme"})) with data.authz.catalog.tools.echo as {"sensitivity": "public", "tenant_argument": "org", "tenant_required": true}

	# Listing is unaffected: arguments are only known at call time.
	tool_visible_to(["analyst"], "read_customer")
}

test_tenant_required_prompt_needs_its_tenant_argument if {
	denied_with(prompt_input(["analyst"], "summarize_customer"), "argument tenant is required: summarize_customer is tenant-scoped")
	allowed(object.union(prompt_input(["analyst"], "summarize_customer"), {"action": {"arguments": {"tenant": "acme", "id": "c-1"}}}))
	allowed(prompt_input(["admin"], "summarize_customer"))
	allowed(prompt_input(["guest"], "greeting"))

	# The prompt's entry in catalog.prompts decides, not a tool of the same name.
	allowed(prompt_input(["analyst"], "summarize_customer")) with data.authz.catalog.prompts.summarize_customer.tenant_required as false
		with data.authz.catalog.tools.summarize_customer as {"sensitivity": "public", "tenant_required": true}
	visible_to(["analyst"], "prompt", "summarize_customer")
}

test_tenant_argument_from_catalog if {
	catalog_echo := {"sensitivity": "public", "tenant_argument": "org"}
	denied_with(call(["guest"], "echo", {"org": "globex"}), "argument org must be your tenant acme") with data.authz.catalog.tools.echo as catalog_echo
	allowed(call(["guest"], "echo", {"org": "acme", "tenant": "globex"})) with data.authz.catalog.tools.echo as catalog_echo
}

# --- OAuth scopes per tool (step-up) -------------------------------------------

test_tool_scopes_missing_denied_and_named if {
	echo_with_scopes := {"sensitivity": "public", "scopes": ["mcp:echo", "mcp:tools"]}
	d := decide(call(["guest"], "echo", {"text": "hi"})) with data.authz.catalog.tools.echo as echo_with_scopes
	d.allow == false
	d.reasons == ["tool echo needs the OAuth scope mcp:echo; sign in again granting it"]
	d.required_scopes == ["mcp:echo"]
}

test_tool_scopes_present_allowed if {
	echo_with_scopes := {"sensitivity": "public", "scopes": ["mcp:echo"]}
	subj := object.union(subject(["guest"]), {"scopes": ["mcp:tools", "mcp:echo"]})
	d := decide(call_as(subj, "echo", {"text": "hi"})) with data.authz.catalog.tools.echo as echo_with_scopes
	d.allow == true
	d.required_scopes == []
}

test_required_scopes_not_named_when_denied_for_another_reason_too if {
	echo_with_scopes := {"sensitivity": "public", "scopes": ["mcp:echo"]}
	guest_without_echo := object.union(data.authz.roles.guest, {"tools": []})
	d := decide(call(["guest"], "echo", {"text": "hi"})) with data.authz.catalog.tools.echo as echo_with_scopes
		with data.authz.roles.guest as guest_without_echo
	d.allow == false

	# Not granted: refused for that alone, and no scopes named (signing in again would not help).
	d.reasons == ["role guest may not call tool echo"]
	d.required_scopes == []
}

test_required_scopes_empty_on_other_denials if {
	d := decide(call(["guest"], "delete_customer", {"tenant": "acme", "id": "c-1"}))
	d.allow == false
	d.required_scopes == []
}

# --- Argument caps -----------------------------------------------------------

test_limit_within_cap_allowed if {
	allowed(call(["admin"], "export_customers", {"tenant": "acme", "limit": 5000, "format": "csv"}))
}

test_limit_above_cap_denied if {
	d := decide(call(["admin"], "export_customers", {"tenant": "acme", "limit": 200000}))
	d.allow == false
	d.reasons == ["limit 200000 exceeds the maximum 100000 for your roles"]
}

test_most_generous_cap_among_roles_applies if {
	subj := with_clearance(["user", "analyst"], "restricted")
	allowed(call_as(subj, "export_customers", {"tenant": "acme", "limit": 1000}))
	denied_with(call_as(subj, "export_customers", {"tenant": "acme", "limit": 5000}), "limit 5000 exceeds the maximum 1000 for your roles")
	denied_with(call_as(with_clearance(["user"], "restricted"), "export_customers", {"tenant": "acme", "limit": 500}), "limit 500 exceeds the maximum 100 for your roles")
}

test_limit_below_one_denied if {
	# 0 and -1 mean "no limit" to many backends.
	denied_with(call(["admin"], "export_customers", {"tenant": "acme", "limit": 0}), "limit must be at least 1")
	denied_with(call(["admin"], "export_customers", {"tenant": "acme", "limit": -1}), "limit must be at least 1")
}

test_limit_must_be_a_number if {
	denied_with(call(["admin"], "export_customers", {"tenant": "acme", "limit": "5000"}), "argument limit must be a number")
}

test_limit_absent_is_not_capped if {
	allowed(call(["admin"], "export_customers", {"tenant": "acme"}))
}

test_role_without_cap_may_not_pass_limited_argument if {
	guest := object.union(data.authz.roles.guest, {"tools": ["*"], "clearance": "restricted"})
	denied_with(call(["guest"], "export_customers", {"tenant": "acme", "limit": 1}), "argument limit of tool export_customers is not allowed for your roles") with data.authz.roles.guest as guest
	allowed(call(["guest"], "export_customers", {"tenant": "acme"})) with data.authz.roles.guest as guest
}
