# Obligations: rate-limit tiers, argument masking, audit level; and the decision's shape.
package mcp.authz_test

always_masked := ["api_key", "password", "secret", "ssn", "token"]

rate_limit_of(roles) := decide(method_input(roles, "tools/list")).obligations.rate_limit

test_rate_limit_guest if {
	rate_limit_of(["guest"]) == {"capacity": 50, "refill_per_second": 1}
}

test_rate_limit_user if {
	rate_limit_of(["user"]) == {"capacity": 200, "refill_per_second": 5}
}

test_rate_limit_analyst if {
	rate_limit_of(["analyst"]) == {"capacity": 200, "refill_per_second": 5}
}

test_rate_limit_premium if {
	rate_limit_of(["premium"]) == {"capacity": 1000, "refill_per_second": 20}
}

test_rate_limit_admin if {
	rate_limit_of(["admin"]) == {"capacity": 5000, "refill_per_second": 100}
}

test_rate_limit_most_generous_tier_of_several_roles if {
	rate_limit_of(["guest", "premium", "user"]) == {"capacity": 1000, "refill_per_second": 20}
	rate_limit_of(["admin", "guest"]) == {"capacity": 5000, "refill_per_second": 100}
}

test_rate_limit_without_known_roles_is_the_default if {
	rate_limit_of([]) == data.authz.default_rate_limit
	rate_limit_of(["superuser"]) == data.authz.default_rate_limit
}

test_rate_limit_also_on_deny if {
	d := decide(call(["guest"], "run_sql", {}))
	d.allow == false
	d.obligations.rate_limit == {"capacity": 50, "refill_per_second": 1}
}

test_mask_arguments_always_list if {
	decide(call(["guest"], "echo", {"text": "hi"})).obligations.mask_arguments == always_masked
	decide(method_input(["guest"], "ping")).obligations.mask_arguments == always_masked
}

test_mask_arguments_merges_tool_list if {
	d := decide(call(["user"], "create_ticket", {"tenant": "acme", "title": "t", "customer_ssn": "123"}))
	d.allow == true
	d.obligations.mask_arguments == ["api_key", "customer_ssn", "password", "secret", "ssn", "token"]
}

test_mask_arguments_deduplicated if {
	tool := {"sensitivity": "internal", "mask_arguments": ["token", "pin"]}
	d := decide(call(["user"], "create_ticket", {})) with data.authz.catalog.tools.create_ticket as tool
	d.obligations.mask_arguments == ["api_key", "password", "pin", "secret", "ssn", "token"]
}

test_audit_full_for_confidential_and_restricted if {
	d1 := decide(call(["analyst"], "read_customer", {"tenant": "acme"}))
	d1.obligations.audit == "full"
	d1.sensitivity == "confidential"
	d2 := decide(call(["admin"], "export_customers", {"tenant": "acme", "limit": 10}))
	d2.obligations.audit == "full"
	d2.sensitivity == "restricted"
}

test_audit_minimal_for_public_and_internal if {
	d1 := decide(call(["guest"], "echo", {}))
	d1.obligations.audit == "minimal"
	d1.sensitivity == "public"
	decide(call(["user"], "search_docs", {})).obligations.audit == "minimal"
	decide(method_input(["user"], "initialize")).obligations.audit == "minimal"
}

test_audit_full_on_deny_of_confidential_tool if {
	d := decide(call(["guest"], "read_customer", {}))
	d.allow == false
	d.obligations.audit == "full"
}

test_decision_shape_on_allow_and_deny if {
	a := decide(call(["guest"], "echo", {}))
	well_formed(a)
	a.allow == true
	a.reasons == []

	# A tool the role is granted, refused for several reasons at once: all of them, sorted.
	d := decide(call(["user"], "export_customers", {"tenant": "globex", "limit": 5000}))
	well_formed(d)
	d.allow == false
	d.reasons == sort(d.reasons)
	count(d.reasons) >= 3
}

# --- Prompts and resources ---------------------------------------------------

test_prompts_get if {
	allowed(prompt_input(["guest"], "greeting"))
	allowed(object.union(prompt_input(["analyst"], "summarize_customer"), {"action": {"arguments": {"tenant": "acme", "id": "c-1"}}}))

	# Not granted: that is the only reason (nothing about the prompt's sensitivity).
	d := decide(prompt_input(["guest"], "summarize_customer"))
	d.allow == false
	d.reasons == ["role guest may not use prompt summarize_customer"]
	denied_with(prompt_input(["user"], "summarize_customer"), "prompt summarize_customer needs clearance confidential, you have internal")
}

test_resources_read_exact_uri if {
	allowed(resource_input(["user"], "resources/read", "docs://handbook"))
	denied_with(resource_input(["guest"], "resources/read", "docs://handbook"), "role guest may not access resource docs://handbook")
}

test_resources_read_by_pattern if {
	allowed(resource_input(["analyst"], "resources/read", "crm://acme/customers/c-9"))
	d := decide(resource_input(["analyst"], "resources/read", "crm://acme/customers/c-9"))
	d.sensitivity == "confidential"
	denied_with(resource_input(["user"], "resources/read", "crm://acme/customers/c-9"), "resource crm://acme/customers/c-9 needs clearance confidential, you have internal")
}

test_resource_globs_stay_in_one_segment if {
	denied_with(resource_input(["analyst"], "resources/read", "crm://acme/customers/c-9/notes"), "role analyst may not access resource crm://acme/customers/c-9/notes")
}

test_resources_subscribe_and_unsubscribe if {
	allowed(resource_input(["analyst"], "resources/subscribe", "crm://acme/customers/c-9"))
	allowed(resource_input(["analyst"], "resources/unsubscribe", "crm://acme/customers/c-9"))
	denied_with(resource_input(["user"], "resources/subscribe", "crm://acme/customers/c-9"), "resource crm://acme/customers/c-9 needs clearance confidential, you have internal")
}

test_unknown_resource_default_sensitivity if {
	d := decide(resource_input(["user"], "resources/read", "file:///tmp/notes.txt"))
	d.allow == true
	d.sensitivity == "internal"
}
