# completion/complete: decided as a use of the prompt or resource template its ref names.
package mcp.authz_test

import data.mcp.authz

crm_template := "crm://{tenant}/customers/{id}"

# What the sidecar sends for a completion of `argument` of a prompt ("prompt") or a resource template
# ("uri"), with the context's arguments `args`.
completion_as(subj, field, name, argument, args) := {
	"subject": subj,
	"action": object.union(
		{"method": "completion/complete", "argument": {"name": argument, "value": "a"}, "arguments": args},
		{field: name},
	),
	"resource": {"kind": completion_resource_kind[field], "name": name, "annotations": {}},
	"context": office_hours,
}

completion_resource_kind := {"prompt": "prompt", "uri": "resource_template"}

prompt_completion(roles, name, argument, args) := completion_as(subject(roles), "prompt", name, argument, args)

template_completion(roles, uri, argument, args) := completion_as(subject(roles), "uri", uri, argument, args)

test_completion_of_a_prompt_follows_its_item_rules if {
	allowed(prompt_completion(["guest"], "greeting", "name", {}))
	denied_with(prompt_completion(["guest"], "summarize_customer", "id", {}), "role guest may not use prompt summarize_customer")
	denied_with(prompt_completion(["user"], "summarize_customer", "id", {}), "prompt summarize_customer needs clearance confidential, you have internal")
	allowed(prompt_completion(["analyst"], "summarize_customer", "id", {"tenant": "acme"}))
	denied_with(prompt_completion(["admin"], "greeting", "name", {}), "role admin may not use prompt greeting") with data.authz.roles.admin.deny_prompts as ["greet*"]
}

test_completion_of_a_template_follows_its_item_rules if {
	allowed(template_completion(["analyst"], crm_template, "id", {"tenant": "acme"}))
	allowed(template_completion(["premium"], crm_template, "id", {"tenant": "acme"}))
	denied_with(template_completion(["guest"], crm_template, "id", {}), "role guest may not access resource template crm://{tenant}/customers/{id}")
	denied_with(template_completion(["user"], crm_template, "id", {}), "resource template crm://{tenant}/customers/{id} needs clearance confidential, you have internal")

	# A ref/resource may write a plain URI: judged by the same grants and catalog.
	allowed(template_completion(["user"], "docs://handbook", "section", {}))
	denied_with(template_completion(["guest"], "docs://handbook", "section", {}), "role guest may not access resource template docs://handbook")
}

test_completion_carries_the_items_sensitivity if {
	d := decide(prompt_completion(["analyst"], "summarize_customer", "id", {}))
	d.sensitivity == "confidential"
	d.obligations.audit == "full"
	decide(prompt_completion(["guest"], "greeting", "name", {})).sensitivity == "public"
	decide(template_completion(["analyst"], crm_template, "id", {})).sensitivity == "confidential"
}

test_always_allowed_methods_cannot_open_completions if {
	denied_with(prompt_completion(["guest"], "summarize_customer", "id", {}), "role guest may not use prompt summarize_customer") with data.authz.always_allowed_methods as ["completion/complete", "**"]
	denied_with(template_completion(["guest"], crm_template, "id", {}), "role guest may not access resource template crm://{tenant}/customers/{id}") with data.authz.always_allowed_methods as ["**"]
}

test_completion_needs_an_item_name if {
	denied_with(prompt_completion(["admin"], "", "x", {}), "completion/complete needs a prompt name")
	denied_with(template_completion(["admin"], "", "x", {}), "completion/complete needs a resource template uri")
}

test_completion_context_arguments_keep_to_the_tenant if {
	denied_with(prompt_completion(["analyst"], "summarize_customer", "id", {"tenant": "globex"}), "argument tenant must be your tenant acme")
	denied_with(template_completion(["analyst"], crm_template, "id", {"tenant": "globex"}), "argument tenant must be your tenant acme")
	allowed(prompt_completion(["admin"], "summarize_customer", "id", {"tenant": "globex"}))
	allowed(template_completion(["admin"], crm_template, "id", {"tenant": "globex"}))
	no_tenant := object.union(subject(["analyst"]), {"tenant": null})
	denied_with(completion_as(no_tenant, "uri", crm_template, "id", {"tenant": "acme"}), "argument tenant is not allowed: your identity has no tenant")
}

test_completion_of_a_template_needs_its_tenant_filled_in if {
	# Left out, the template's completer sees no tenant and may list every tenant's values.
	denied_with(template_completion(["analyst"], crm_template, "id", {}), "argument tenant must be your tenant acme")
	denied_with(template_completion(["premium"], crm_template, "id", {"id": "c-1"}), "argument tenant must be your tenant acme")
	no_tenant := object.union(subject(["analyst"]), {"tenant": null})
	denied_with(completion_as(no_tenant, "uri", crm_template, "id", {}), "argument tenant is not allowed: your identity has no tenant")
	allowed(template_completion(["admin"], crm_template, "id", {}))

	# Completing the tenant itself is refused for that alone; a template writing its tenant in needs none.
	d := decide(template_completion(["analyst"], crm_template, "tenant", {}))
	d.reasons == ["argument tenant may not be completed: it can only be your tenant acme"]
	allowed(template_completion(["analyst"], "crm://acme/customers/{id}", "id", {}))
}

test_completion_of_a_tenant_required_prompt_needs_its_tenant if {
	# Left out, the prompt's completer sees no tenant and may list every tenant's values.
	d := decide(prompt_completion(["analyst"], "summarize_customer", "id", {}))
	d.allow == false
	d.reasons == ["argument tenant is required: summarize_customer is tenant-scoped"]
	denied_with(prompt_completion(["premium"], "summarize_customer", "id", {"id": "c-1"}), "argument tenant is required: summarize_customer is tenant-scoped")
	no_tenant := object.union(subject(["analyst"]), {"tenant": null})
	denied_with(completion_as(no_tenant, "prompt", "summarize_customer", "id", {}), "argument tenant is required: summarize_customer is tenant-scoped, and your identity has no tenant")
	allowed(prompt_completion(["analyst"], "summarize_customer", "id", {"tenant": "acme"}))
	allowed(prompt_completion(["admin"], "summarize_customer", "id", {}))
	allowed(prompt_completion(["analyst"], "summarize_customer", "id", {})) with data.authz.catalog.prompts.summarize_customer.tenant_required as false

	# Completing the tenant itself is refused for that alone, as for any prompt.
	decide(prompt_completion(["analyst"], "summarize_customer", "tenant", {})).reasons == ["argument tenant may not be completed: it can only be your tenant acme"]
}

test_completing_the_tenant_argument_is_refused if {
	denied_with(prompt_completion(["analyst"], "summarize_customer", "tenant", {}), "argument tenant may not be completed: it can only be your tenant acme")
	denied_with(template_completion(["analyst"], crm_template, "tenant", {}), "argument tenant may not be completed: it can only be your tenant acme")
	no_tenant := object.union(subject(["analyst"]), {"tenant": null})
	denied_with(completion_as(no_tenant, "prompt", "summarize_customer", "tenant", {}), "argument tenant may not be completed: your identity has no tenant")
	allowed(prompt_completion(["admin"], "summarize_customer", "tenant", {}))
	allowed(template_completion(["admin"], crm_template, "tenant", {}))

	# The catalog names each item's tenant argument.
	allowed(prompt_completion(["analyst"], "summarize_customer", "tenant", {"org": "acme"})) with data.authz.catalog.prompts.summarize_customer.tenant_argument as "org"
	denied_with(prompt_completion(["analyst"], "summarize_customer", "org", {}), "argument org may not be completed: it can only be your tenant acme") with data.authz.catalog.prompts.summarize_customer.tenant_argument as "org"
}

test_completion_of_a_template_with_its_tenant_written_in_keeps_to_it if {
	allowed(template_completion(["analyst"], "crm://acme/customers/{id}", "id", {}))
	denied_with(template_completion(["analyst"], "crm://globex/customers/{id}", "id", {}), "resource crm://globex/customers/{id} is not in your tenant acme")
	denied_with(template_completion(["analyst"], "crm://{+tenant}/customers/{id}", "tenant", {}), "argument tenant may not be completed: it can only be your tenant acme")
	allowed(template_completion(["admin"], "crm://globex/customers/{id}", "id", {}))
}

test_completion_of_a_restricted_item_needs_its_hours_and_network if {
	night := object.union(prompt_completion(["admin"], "greeting", "name", {}), {"context": at({"weekday": 0, "hour": 3, "client_ip": "203.0.113.5"})})
	denied_with(night, "restricted prompts are only available Mon–Fri 08:00–18:00 UTC") with data.authz.catalog.prompts.greeting.sensitivity as "restricted"
	denied_with(night, "restricted prompts require a trusted network") with data.authz.catalog.prompts.greeting.sensitivity as "restricted"
	template := object.union(template_completion(["admin"], crm_template, "id", {}), {"context": at({"client_ip": "203.0.113.5"})})
	denied_with(template, "restricted resource templates require a trusted network") with data.authz.catalog.resources["crm://{tenant}/customers/{id}"].sensitivity as "restricted"
}

# Allowed exactly when the caller may use the item (`visible` lists it), for every catalog prompt and
# resource template, every role and every pair of roles, with context arguments in the caller's tenant.
completion_disagreements(role_sets) := [[roles, kind, name] |
	some roles in role_sets
	some [field, kind, name] in completion_items
	a := authz.allow with input as completion_as(subject(roles), field, name, "id", {"tenant": "acme"})
	v := seen(subject(roles), kind, name, {})
	a != v
]

completion_items := array.concat(
	[["prompt", "prompt", name] | some name, _ in data.authz.catalog.prompts],
	[["uri", "resource_template", name] | some name, _ in data.authz.catalog.resources],
)

test_completion_allowed_exactly_when_visible_single_roles if {
	count(completion_items) >= 4
	completion_disagreements(single_roles) == []
}

test_completion_allowed_exactly_when_visible_role_pairs if {
	completion_disagreements(role_pairs) == []
}

test_completion_allow_matches_its_definition if {
	subjects := [subject(["analyst"]), subject(["user"]), object.union(subject(["admin"]), {"tenant": null}), subject(["guest"])]
	requests := [
		prompt_completion(["user"], "summarize_customer", "id", {"tenant": "globex"}),
		prompt_completion(["user"], "summarize_customer", "tenant", {}),
		prompt_completion(["user"], "greeting", "name", {}),
		template_completion(["user"], crm_template, "tenant", {}),
		template_completion(["user"], crm_template, "id", {}),
		template_completion(["user"], "crm://globex/customers/{id}", "id", {}),
		template_completion(["user"], "docs://handbook", "x", {}),
		method_input(["user"], "completion/complete"),
	]
	inputs := [object.union(r, {"subject": s}) | some r in requests; some s in subjects]
	disagreements(inputs) == []
}

test_completion_of_a_template_checks_the_variable_its_tenant_segment_names if {
	# The upstream's template names its tenant variable itself; the catalog entry's globs match it.
	org := "crm://{org}/customers/{id}"
	denied_with(template_completion(["analyst"], org, "org", {}), "argument org may not be completed: it can only be your tenant acme")
	denied_with(template_completion(["analyst"], org, "id", {"tenant": "acme", "org": "globex"}), "argument org must be your tenant acme")
	denied_with(template_completion(["analyst"], org, "id", {"tenant": "acme"}), "argument org must be your tenant acme")
	allowed(template_completion(["analyst"], org, "id", {"org": "acme"}))
	denied_with(template_completion(["analyst"], "crm://{+org}/customers/{id}", "org", {}), "argument org may not be completed: it can only be your tenant acme")
	allowed(template_completion(["admin"], org, "org", {}))
}
