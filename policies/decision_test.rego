# `allow` is computed from the conditions directly (so an allowed request never builds the deny
# reasons). These tests pin it to its definition: allowed exactly when the request is authenticated,
# positively permitted (an always-allowed method, or an item usable() says the subject may use) and
# no rule produced a deny reason. A deny rule added to deny_reasons without a matching condition in
# call_denials / item_checks() fails here.
package mcp.authz_test

import data.mcp.authz

# The definition, evaluated the slow way.
allow_by_definition(inp) if {
	authz.authenticated with input as inp
	permitted_by_definition(inp)
	count(authz.deny_reasons) == 0 with input as inp
}

permitted_by_definition(inp) if {
	not authz.item_kind with input as inp
	authz.always_allowed(inp.action.method)
}

permitted_by_definition(inp) if {
	kind := authz.item_kind with input as inp
	name := authz.item_name with input as inp
	authz.usable(kind, name) with input as inp
}

disagreements(inputs) := [inp |
	some inp in inputs
	a := authz.allow with input as inp
	b := allow_by_definition_value(inp)
	a != b
]

allow_by_definition_value(inp) if {
	allow_by_definition(inp)
} else := false

invariant_contexts := [
	office_hours,
	at({"weekday": 0, "hour": 3, "client_ip": "203.0.113.5"}),
]

invariant_arguments := [
	{"tenant": "acme", "limit": 10},
	{"tenant": "globex", "limit": 5000, "format": "csv"},
]

tool_call_inputs(role_sets) := [inp |
	some roles in role_sets
	some name, _ in data.authz.catalog.tools
	some args in invariant_arguments
	some ctx in invariant_contexts
	inp := call_input(subject(roles), name, args, annotations(name), ctx)
]

# (Split so that each test stays well within the test runner's time limit.)
test_allow_matches_its_definition_guest_user if {
	inputs := tool_call_inputs([["guest"], ["user"]])
	count(inputs) >= 80
	disagreements(inputs) == []
}

test_allow_matches_its_definition_analyst_premium if {
	disagreements(tool_call_inputs([["analyst"], ["premium"]])) == []
}

test_allow_matches_its_definition_admin_no_role if {
	disagreements(tool_call_inputs([["admin"], []])) == []
}

test_allow_matches_its_definition_role_pairs if {
	disagreements(tool_call_inputs([["admin", "user"], ["analyst", "guest"]])) == []
}

test_allow_matches_its_definition_role_pairs_2 if {
	disagreements(tool_call_inputs([["premium", "user"], ["analyst", "premium"]])) == []
}

test_allow_matches_its_definition_other_requests if {
	subjects := [
		subject(["analyst"]),
		with_clearance(["user"], "restricted"),
		object.union(subject(["admin"]), {"tenant": null}),
		object.remove(subject(["admin"]), ["id"]),
	]
	requests := [
		method_input(["user"], "ping"),
		method_input(["user"], "notifications/roots/list_changed"),
		method_input(["user"], "foo/bar"),
		prompt_input(["user"], "summarize_customer"),
		prompt_input(["analyst"], "summarize_customer"),
		resource_input(["user"], "resources/read", "crm://acme/customers/c-9"),
		resource_input(["analyst"], "resources/subscribe", "crm://acme/customers/c-9"),
		resource_input(["admin"], "resources/read", "docs://handbook"),
		{"action": {"method": "tools/call", "arguments": {"tenant": "globex"}}, "resource": {"kind": "tool", "name": ""}},
		{"action": {"method": "prompts/get"}},
		call_input(subject(["admin"]), "echo", ["x"], {}, office_hours),
		call_input(subject(["analyst"]), "export_customers", {"limit": "100"}, {}, office_hours),
		call_input(subject(["admin"]), "wipe_cache", {}, {"destructiveHint": true}, office_hours),
	]
	inputs := [object.union(r, {"subject": s, "context": office_hours}) | some r in requests; some s in subjects]
	disagreements(inputs) == []
}
