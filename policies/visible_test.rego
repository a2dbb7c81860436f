# The `visible` entrypoint (list-reply filtering) and its invariant with `decision`.
package mcp.authz_test

import data.mcp.authz

test_visible_tools_follow_grants_and_clearance if {
	tool_visible_to(["guest"], "echo")
	not tool_visible_to(["guest"], "delete_customer")
	not tool_visible_to(["guest"], "search_docs")
	tool_visible_to(["user"], "create_ticket")
	not tool_visible_to(["user"], "read_customer")
	tool_visible_to(["analyst"], "read_customer")
}

test_visible_tools_honour_explicit_denies if {
	not tool_visible_to(["user"], "run_sql")
	not tool_visible_to(["premium"], "delete_customer")
	not tool_visible_to(["admin", "user"], "run_sql")
	tool_visible_to(["admin"], "run_sql")
}

test_visible_destructive_needs_destructive_role if {
	not seen(subject(["premium"]), "tool", "wipe_cache", {"destructiveHint": true})
	seen(subject(["premium"]), "tool", "wipe_cache", {"destructiveHint": false})
	seen(subject(["admin"]), "tool", "wipe_cache", {"destructiveHint": true})
}

test_visible_ignores_time_network_tenant_and_arguments if {
	inp := object.union(
		list_item_input(subject(["admin"]), "tool", "run_sql", annotations("run_sql")),
		{"context": at({"weekday": 0, "hour": 3, "client_ip": "203.0.113.5"})},
	)
	authz.visible with input as inp
	tool_visible_to(["admin"], "export_customers")
}

test_visible_prompts if {
	visible_to(["guest"], "prompt", "greeting")
	not visible_to(["guest"], "prompt", "summarize_customer")
	not visible_to(["user"], "prompt", "summarize_customer")
	visible_to(["analyst"], "prompt", "summarize_customer")
}

test_visible_resources if {
	visible_to(["user"], "resource", "docs://handbook")
	not visible_to(["guest"], "resource", "docs://handbook")
	visible_to(["analyst"], "resource", "docs://handbook")
	not visible_to(["user"], "resource", "crm://acme/customers/c-9")
}

test_visible_resource_templates if {
	visible_to(["analyst"], "resource_template", "crm://{tenant}/customers/{id}")
	visible_to(["premium"], "resource_template", "crm://{tenant}/customers/{id}")
	not visible_to(["user"], "resource_template", "crm://{tenant}/customers/{id}")
	not visible_to(["guest"], "resource_template", "crm://{tenant}/customers/{id}")
}

test_visible_unknown_kind_is_false if {
	not visible_to(["admin"], "method", "tools/call")
	not visible_to(["admin"], "widget", "echo")
}

test_visible_requires_authentication if {
	subj := object.remove(subject(["admin"]), ["id"])
	seen(subj, "tool", "echo", {}) == false
}

test_visible_defined_for_garbage_input if {
	results := [v |
		some g in [{}, "garbage", null, {"subject": 1, "resource": []}, {"subject": {"id": "u"}, "resource": {"kind": "tool"}}]
		v := authz.visible with input as g
	]
	results == [false, false, false, false, false]
}

# The invariant list filtering relies on: whatever `decision` allows for tools/call of T, `visible`
# shows T to the same subject. Checked over the whole catalog plus unknown tools, for every role,
# every pair of roles, and explicit clearances, inside the restricted-tool window.
single_roles := array.concat([[r] | some r, _ in data.authz.roles], [[]])

role_pairs := [[a, b] | some a, _ in data.authz.roles; some b, _ in data.authz.roles; a < b]

pairs_with_admin := [p | some p in role_pairs; "admin" in p]

pairs_without_admin := [p | some p in role_pairs; not "admin" in p]

invariant_tools := array.concat(
	[[name, annotations(name)] | some name, _ in data.authz.catalog.tools],
	[[name, ann] | some name in ["brand_new_tool", "delete_everything"]; some ann in [{}, {"destructiveHint": true}]],
)

# The tools/call decisions that allow, for each of these role sets with the given clearance.
# (`allow` is exactly decision.allow; evaluating only it keeps these tests fast.)
allowed_tool_calls(role_sets, clearance) := [[subj, name, ann] |
	some roles in role_sets
	subj := with_clearance(roles, clearance)
	some [name, ann] in invariant_tools
	authz.allow with input as call_input(subj, name, {"tenant": "acme", "limit": 1}, ann, office_hours)
]

invisible(calls) := [[subj.roles, subj.clearance, name] |
	some [subj, name, ann] in calls
	not seen(subj, "tool", name, ann)
]

test_invariant_visible_covers_allowed_tools_single_roles if {
	calls := allowed_tool_calls(single_roles, null)
	count(calls) >= 28
	invisible(calls) == []
}

test_invariant_visible_covers_allowed_tools_single_roles_restricted_clearance if {
	calls := allowed_tool_calls(single_roles, "restricted")
	count(calls) >= 28
	invisible(calls) == []
}

test_invariant_visible_covers_allowed_tools_pairs_with_admin if {
	calls := allowed_tool_calls(pairs_with_admin, null)
	count(calls) >= 30
	invisible(calls) == []
}

test_invariant_visible_covers_allowed_tools_pairs_with_admin_restricted_clearance if {
	calls := allowed_tool_calls(pairs_with_admin, "restricted")
	count(calls) >= 30
	invisible(calls) == []
}

test_invariant_visible_covers_allowed_tools_pairs_without_admin if {
	calls := allowed_tool_calls(pairs_without_admin, null)
	count(calls) >= 20
	invisible(calls) == []
}

test_invariant_visible_covers_allowed_tools_pairs_without_admin_restricted_clearance if {
	calls := allowed_tool_calls(pairs_without_admin, "restricted")
	count(calls) >= 20
	invisible(calls) == []
}

test_invariant_visible_covers_allowed_prompts_and_resources if {
	items := array.concat(
		[["prompt", p, prompt_input([], p)] | some p, _ in data.authz.catalog.prompts],
		[["resource", u, resource_input([], "resources/read", u)] | some u in ["docs://handbook", "crm://acme/customers/c-9", "crm://globex/customers/c-9", "file:///x"]],
	)
	allowed_items := [[subj, kind, name] |
		some roles in array.concat(single_roles, role_pairs)
		subj := subject(roles)
		some [kind, name, base] in items
		authz.allow with input as object.union(base, {"subject": subj})
	]
	count(allowed_items) > 20
	violations := [[subj.roles, name] |
		some [subj, kind, name] in allowed_items
		not seen(subj, kind, name, {})
	]
	violations == []
}
