# Methods, authentication and garbage input.
package mcp.authz_test

import data.mcp.authz

test_always_allowed_methods_for_every_role if {
	exact := [m | some m in data.authz.always_allowed_methods; not contains(m, "*")]
	count(exact) > 5
	every_role := [[], ["guest"], ["user"], ["analyst"], ["premium"], ["admin"]]
	failures := [[roles, m] |
		some roles in every_role
		some m in exact
		not allowed(method_input(roles, m))
	]
	count(failures) == 0
}

test_initialize_and_ping_allowed_with_empty_reasons if {
	d := decide(method_input(["guest"], "initialize"))
	d.allow == true
	d.reasons == []
	allowed(method_input(["guest"], "ping"))
}

test_notifications_glob_matches_nested_methods if {
	allowed(method_input(["user"], "notifications/initialized"))
	allowed(method_input(["user"], "notifications/cancelled"))
	allowed(method_input(["user"], "notifications/roots/list_changed"))
}

test_unknown_method_denied if {
	d := decide(method_input(["admin"], "foo/bar"))
	d.allow == false
	d.reasons == ["method foo/bar is not allowed"]
}

test_sampling_method_denied if {
	denied_with(method_input(["user"], "sampling/createMessage"), "method sampling/createMessage is not allowed")
}

test_always_allowed_list_is_data_driven if {
	not allowed(method_input(["user"], "logging/setLevel")) with data.authz.always_allowed_methods as ["initialize"]
	allowed(method_input(["user"], "foo/bar")) with data.authz.always_allowed_methods as ["foo/*"]
}

test_always_allowed_cannot_bypass_tool_rules if {
	denied_with(call(["guest"], "run_sql", {}), "role guest may not call tool run_sql") with data.authz.always_allowed_methods as ["**"]
}

test_unauthenticated_denied if {
	inp := object.union(object.remove(method_input(["admin"], "ping"), ["subject"]), {"subject": object.remove(subject(["admin"]), ["id"])})
	d := decide(inp)
	d.allow == false
	d.reasons == ["authentication required"]
}

test_task_methods_need_authentication_only if {
	every m in ["tasks/get", "tasks/result", "tasks/cancel", "tasks/update", "tasks/list"] {
		allowed(method_input(["guest"], m))
		allowed(method_input([], m))
		denied_with(object.union(method_input(["admin"], m), {"subject": {"id": ""}}), "authentication required")
	}
}

test_2026_plumbing_needs_authentication_only if {
	every m in ["server/discover", "subscriptions/listen"] {
		allowed(method_input(["guest"], m))
		denied_with(object.union(method_input(["admin"], m), {"subject": {"id": ""}}), "authentication required")
	}
}

test_empty_subject_id_denied if {
	inp := object.union(method_input(["admin"], "ping"), {"subject": {"id": ""}})
	denied_with(inp, "authentication required")
}

test_missing_method_denied if {
	inp := {"subject": subject(["admin"]), "action": {}, "resource": {}, "context": office_hours}
	d := decide(inp)
	d.allow == false
	d.reasons == ["the request has no method"]
	well_formed(d)
}

test_tools_call_without_tool_name_denied if {
	inp := {
		"subject": subject(["admin"]),
		"action": {"method": "tools/call", "arguments": {}},
		"resource": {"kind": "tool", "annotations": {}},
		"context": office_hours,
	}
	denied_with(inp, "tools/call needs a tool name")
	well_formed(decide(inp))
}

test_resources_read_without_uri_denied if {
	inp := {"subject": subject(["admin"]), "action": {"method": "resources/read"}, "context": office_hours}
	denied_with(inp, "resources/read needs a resource uri")
}

test_decision_defined_for_garbage_input if {
	garbage := [
		{},
		"garbage",
		42,
		null,
		[1, 2, 3],
		{"subject": "root", "action": ["tools/call"], "resource": 7, "context": null},
		{"subject": {"id": 5, "roles": "admin"}, "action": {"method": 9}},
		{"subject": {"id": "u-1", "roles": {"a": "admin"}}, "action": {"method": "tools/call", "tool": 3, "arguments": "x"}},
		{"subject": {"id": "u-1", "roles": ["admin"]}, "action": {"method": "tools/call", "tool": "echo", "arguments": [1]}},
	]
	decisions := [d | some g in garbage; d := decide(g)]
	count(decisions) == count(garbage)
	bad := [d | some d in decisions; not denied_well_formed(d)]
	count(bad) == 0
}

denied_well_formed(d) if {
	well_formed(d)
	d.allow == false
	count(d.reasons) > 0
}

test_decision_defined_without_data if {
	d := authz.decision with input as call(["admin"], "echo", {}) with data.authz as {}
	d.allow == false
	count(d.reasons) > 0
	well_formed(d)
}

test_arguments_must_be_an_object if {
	denied_with(call(["admin"], "echo", ["x"]), "arguments must be a JSON object")
	allowed(call(["admin"], "echo", null))
}

test_completion_without_an_item_is_never_always_allowed if {
	# A completion is decided on the prompt or resource template its ref names (completion_test.rego); one
	# naming neither (the sidecar refuses it before the policy) has nothing to be allowed on, whatever the data.
	reason := "completion/complete needs a ref to a prompt or a resource template"
	denied_with(method_input(["admin"], "completion/complete"), reason)
	denied_with(method_input(["admin"], "completion/complete"), reason) with data.authz.always_allowed_methods as ["completion/complete", "**"]
}
