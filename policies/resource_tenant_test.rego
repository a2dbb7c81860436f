# Tenant isolation for resources: the tenant named by a URI template's {tenant} segment.
package mcp.authz_test

import data.mcp.authz

own := "crm://acme/customers/c-9"

other := "crm://globex/customers/c-9"

no_tenant_subject(roles) := object.remove(subject(roles), ["tenant"])

# (object.union would merge the subjects and keep the tenant.)
resource_input_as(subj, method, uri) := object.union(object.remove(resource_input([], method, uri), ["subject"]), {"subject": subj})

test_resource_of_own_tenant_allowed if {
	allowed(resource_input(["analyst"], "resources/read", own))
	allowed(resource_input(["premium"], "resources/subscribe", own))
}

test_resource_of_other_tenant_denied if {
	some method in ["resources/read", "resources/subscribe", "resources/unsubscribe"]
	d := decide(resource_input(["analyst"], method, other))
	d.allow == false
	d.reasons == ["resource crm://globex/customers/c-9 is not in your tenant acme"]
}

test_resource_tenant_denial_comes_with_the_other_reasons if {
	# user lacks the clearance too: both reasons, as a tool's tenant argument would give.
	d := decide(resource_input(["user"], "resources/read", other))
	d.reasons == [
		"resource crm://globex/customers/c-9 is not in your tenant acme",
		"resource crm://globex/customers/c-9 needs clearance confidential, you have internal",
	]
}

test_resource_tenant_lifted_by_cross_tenant_role if {
	allowed(resource_input(["admin"], "resources/read", other))
}

test_resource_tenant_needs_a_tenant_in_the_identity if {
	inp := resource_input_as(no_tenant_subject(["analyst"]), "resources/read", own)
	d := decide(inp)
	d.allow == false
	d.reasons == ["resource crm://acme/customers/c-9 belongs to a tenant and your identity has none"]
}

test_resource_without_tenant_template_not_scoped if {
	allowed(resource_input(["user"], "resources/read", "docs://handbook"))
	inp := resource_input_as(no_tenant_subject(["user"]), "resources/read", "docs://handbook")
	allowed(inp)
}

test_resource_tenant_argument_named_by_the_catalog if {
	catalog := {"files://{org}/reports/{id}": {"sensitivity": "internal", "match": ["files://*/reports/*"], "tenant_argument": "org"}}
	allowed(resource_input(["user"], "resources/read", "files://acme/reports/q3")) with data.authz.catalog.resources as catalog
	denied_with(resource_input(["user"], "resources/read", "files://globex/reports/q3"), "resource files://globex/reports/q3 is not in your tenant acme") with data.authz.catalog.resources as catalog
}

test_resource_tenant_default_argument_only_as_a_whole_segment if {
	# {tenant} inside a segment names no segment: the entry scopes nothing.
	catalog := {"files://t-{tenant}/{id}": {"sensitivity": "internal", "match": ["files://*/*"]}}
	allowed(resource_input(["user"], "resources/read", "files://t-globex/q3")) with data.authz.catalog.resources as catalog
}

test_resource_uri_shorter_than_its_template_denied if {
	# A match glob wider than the template: a URI without the tenant segment belongs to nobody's tenant.
	catalog := {"crm://x/{tenant}/{id}": {"sensitivity": "internal", "match": ["crm://**"]}}
	denied_with(resource_input(["user"], "resources/read", "crm://x"), "resource crm://x is not in your tenant acme") with data.authz.catalog.resources as catalog
	allowed(resource_input(["user"], "resources/read", "crm://x/acme/1")) with data.authz.catalog.resources as catalog
}

test_visible_resources_of_own_tenant_only if {
	visible_to(["analyst"], "resource", own)
	not visible_to(["analyst"], "resource", other)
	visible_to(["admin"], "resource", other)
	not seen(no_tenant_subject(["analyst"]), "resource", own, {})
}

test_visible_resource_template_whatever_the_tenant if {
	visible_to(["analyst"], "resource_template", "crm://{tenant}/customers/{id}")
	seen(no_tenant_subject(["analyst"]), "resource_template", "crm://{tenant}/customers/{id}", {})
}
