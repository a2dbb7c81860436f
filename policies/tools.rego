# Call-time rules that depend on the arguments: tenant isolation (tool and prompt arguments, resource
# URIs) and numeric argument caps. Only the resource URI's tenant also affects `visible`: a listed
# resource of another tenant can never be read.
#
# Call-time rules add their messages to `call_denials` (not to deny_reasons directly): `allow`
# requires call_denials to be empty, and deny_reasons includes all of them.
package mcp.authz

# The call's arguments; a missing or null `arguments` is treated as no arguments.
# Call as call_arguments(input.action).
call_arguments(action) := a if {
	a := action.arguments
	is_object(a)
} else := {}

call_denials contains "arguments must be a JSON object" if {
	item_kind == "tool"
	a := input.action.arguments
	a != null
	not is_object(a)
}

# ---------------------------------------------------------------------------
# Tenant isolation
# ---------------------------------------------------------------------------

# The argument that names a tenant: the item's own catalog entry's tenant_argument (a tool's in
# catalog.tools, a prompt's in catalog.prompts), else the default.
tenant_argument(kind, name) := t if {
	t := data.authz.catalog[grant_field(kind)][name].tenant_argument
	is_string(t)
} else := data.authz.default_tenant_argument

# When the tenant argument is present, it must be the subject's tenant; a subject without a tenant
# may not pass it at all. When it is absent, the call passes (the upstream is expected to scope by the
# sidecar's identity headers), unless the item's catalog entry says `tenant_required`: its upstream reads
# the tenant from the arguments, and without one may answer for every tenant. A cross-tenant role lifts
# all three. Prompts take arguments too (prompts/get), and so does a prompt's completion (its context's
# arguments), except while it completes the tenant argument itself, refused for that (below).
call_denials contains msg if {
	item_kind in {"tool", "prompt"}
	name := item_name
	arg := tenant_argument(item_kind, name)
	msg := tenant_argument_denial(item_kind, name, arg, call_arguments(input.action))
}

tenant_argument_denial(kind, name, arg, args) := msg if {
	value := args[arg]
	msg := tenant_denial(arg, value, subject_tenant(input))
} else := msg if {
	not has_key(args, arg)
	tenant_required(kind, name)
	not role_flag("cross_tenant")
	not completing(arg)
	msg := missing_tenant_denial(arg, name, subject_tenant(input))
}

has_key(obj, key) if _ = obj[key]

# Whether the catalog marks the item tenant-scoped (a tool's entry in catalog.tools, a prompt's in
# catalog.prompts); only the boolean true counts (data_test.rego refuses any other value).
tenant_required(kind, name) if data.authz.catalog[grant_field(kind)][name].tenant_required == true

missing_tenant_denial(arg, name, tenant) := concat("", ["argument ", arg, " is required: ", name, " is tenant-scoped"]) if {
	tenant != null
} else := concat("", ["argument ", arg, " is required: ", name, " is tenant-scoped, and your identity has no tenant"])

# (The same for a call without a tool name, which is denied anyway: its reasons list this too.)
call_denials contains msg if {
	item_kind == "tool"
	not item_name
	arg := data.authz.default_tenant_argument
	value := call_arguments(input.action)[arg]
	msg := tenant_denial(arg, value, subject_tenant(input))
}

# Resources name their tenant in the URI: a catalog resource whose key is a URI template with the
# tenant argument as a whole path segment (crm://{tenant}/customers/{id}) puts the tenant of every URI
# its match globs match at that segment. Reading, subscribing or listing such a URI of another tenant
# is refused, as a tool's tenant argument is; a cross-tenant role lifts it.
call_denials contains msg if {
	item_kind == "resource"
	some msg in resource_tenant_denials(item_name)
}

# The denials for one resource URI (empty when no catalog entry scopes it to a tenant).
# Call as resource_tenant_denials(uri).
resource_tenant_denials(uri) := {msg |
	some template, entry in data.authz.catalog.resources
	some i in tenant_segments(template, entry)
	any_match(entry.match, uri)
	msg := resource_tenant_denial(uri, segment(split(uri, "/"), i), subject_tenant(input))
}

# The indexes of the template's path segments that are exactly the tenant argument ("{tenant}").
tenant_segments(template, entry) := {i |
	variable := concat("", ["{", resource_tenant_argument(entry), "}"])
	some i, part in split(template, "/")
	part == variable
}

resource_tenant_argument(entry) := t if {
	t := entry.tenant_argument
	is_string(t)
} else := data.authz.default_tenant_argument

# Segment i of a split URI, or null when the URI is shorter (its tenant is then nobody's).
segment(parts, i) := parts[i] if {
	i < count(parts)
} else := null

resource_tenant_denial(uri, value, tenant) := msg if {
	tenant != null
	value != tenant
	not role_flag("cross_tenant")
	msg := concat("", ["resource ", uri, " is not in your tenant ", tenant])
} else := msg if {
	tenant == null
	not role_flag("cross_tenant")
	msg := concat("", ["resource ", uri, " belongs to a tenant and your identity has none"])
}

tenant_denial(arg, value, tenant) := msg if {
	tenant != null
	value != tenant
	not role_flag("cross_tenant")
	msg := concat("", ["argument ", arg, " must be your tenant ", tenant])
} else := msg if {
	tenant == null
	not role_flag("cross_tenant")
	msg := concat("", ["argument ", arg, " is not allowed: your identity has no tenant"])
}

# ---------------------------------------------------------------------------
# Tenant isolation of completions (completion/complete)
# ---------------------------------------------------------------------------

# A completion is decided as a use of its item, on the arguments its context gives (action.arguments: a
# prompt's are checked by the tenant rule above, as a prompts/get's are). Besides: completing the tenant
# argument itself would list tenants, and the caller may only ever use its own (a cross-tenant role lifts
# it); and a resource template's tenant, whether its URI writes one or its context gives one, must be the
# caller's, as a read's URI must: a template's tenant variable the context leaves unfilled counts as no
# tenant, since its completer then sees none and may list every tenant's values. (One rule here: for any
# other request it stops at its first line.)
call_denials contains msg if {
	input.action.method == "completion/complete"
	some msg in completion_denials
}

completion_denials contains msg if {
	some variable in completion_tenant_variables
	input.action.argument.name == variable
	msg := completed_tenant_denial(variable, subject_tenant(input))
}

completion_denials contains msg if {
	item_kind == "resource_template"
	some [variable, part] in template_tenant_parts(item_name)
	template_variable(part)
	not completing(variable)
	value := object.get(call_arguments(input.action), variable, null)
	msg := tenant_denial(variable, value, subject_tenant(input))
}

completing(argument) if input.action.argument.name == argument

completion_denials contains msg if {
	item_kind == "resource_template"
	some [_, part] in template_tenant_parts(item_name)
	not template_variable(part)
	msg := resource_tenant_denial(item_name, part, subject_tenant(input))
}

# The arguments of the completed item that name a tenant: a prompt's tenant argument; a resource template's
# variables at the tenant segments of the catalog entries that scope it.
completion_tenant_variables contains tenant_argument("prompt", item_name) if item_kind == "prompt"

completion_tenant_variables contains variable if {
	item_kind == "resource_template"
	some [variable, part] in template_tenant_parts(item_name)
	template_variable(part)
}

# [tenant variable, the template's segment there] for each catalog entry scoping the template (or URI) to a
# tenant, as resource_tenant_denials finds them for a URI; the segment is null when the template is shorter.
# The variable is the one the segment names ("{org}", "{+org}"): the upstream fills in and completes its own
# template's variables, whatever the catalog entry calls its tenant argument.
template_tenant_parts(template) := {[variable, part] |
	some key, entry in data.authz.catalog.resources
	some i in tenant_segments(key, entry)
	any_match(entry.match, template)
	part := segment(split(template, "/"), i)
	some variable in segment_variables(part, resource_tenant_argument(entry))
}

# The variables of a segment that is one template expression ("{org}", "{+org}", "{org,x}", "{org:3}"),
# else {fallback}.
segment_variables(part, fallback) := names if {
	startswith(part, "{")
	endswith(part, "}")
	inner := trim_suffix(trim_prefix(part, "{"), "}")
	not contains(inner, "{")
	names := {name |
		some spec in split(trim_left(inner, "+#./;?&"), ",")
		name := trim_right(split(spec, ":")[0], "*")
	}
} else := {fallback}

# A segment holding a template expression ("{tenant}", "{+tenant}"): the tenant is still to be filled in.
template_variable(part) if contains(part, "{")

completed_tenant_denial(arg, tenant) := msg if {
	not role_flag("cross_tenant")
	tenant != null
	msg := concat("", ["argument ", arg, " may not be completed: it can only be your tenant ", tenant])
} else := msg if {
	not role_flag("cross_tenant")
	msg := concat("", ["argument ", arg, " may not be completed: your identity has no tenant"])
}

# ---------------------------------------------------------------------------
# OAuth scopes per tool (step-up authorization)
# ---------------------------------------------------------------------------

# A catalog tool may list the `scopes` a caller's token must carry to call it. A call lacking one is
# denied, and the decision names the missing scopes in required_scopes: the sidecar then answers a
# caller signed in with a JWT 403 insufficient_scope naming them, so its MCP client can ask the
# authorization server for them and call again (MCP "Scope Challenge Handling").
call_denials contains msg if {
	some s in missing_tool_scopes
	msg := concat("", ["tool ", item_name, " needs the OAuth scope ", s, "; sign in again granting it"])
}

missing_tool_scopes contains s if {
	item_kind == "tool"
	some s in data.authz.catalog.tools[item_name].scopes
	not s in input.subject.scopes
}

# ---------------------------------------------------------------------------
# Numeric argument caps (roles' argument_limits)
# ---------------------------------------------------------------------------

# An argument of the called tool is limited when ANY role caps it. A limited argument that is
# present must be a number within the most generous cap among the subject's own roles.
call_denials contains msg if {
	item_kind == "tool"
	name := item_name
	limited := {arg | some role in data.authz.roles; some arg, _ in role.argument_limits[name]}
	some arg in limited
	value := call_arguments(input.action)[arg]
	msg := cap_denial(name, arg, value)
}

cap_denial(name, arg, value) := concat("", ["argument ", arg, " must be a number"]) if {
	not is_number(value)
} else := msg if {
	msg := cap_exceeded(name, arg, value, argument_caps(name, arg))
}

cap_exceeded(name, arg, value, caps) := concat("", ["argument ", arg, " of tool ", name, " is not allowed for your roles"]) if {
	count(caps) == 0
} else := concat("", [arg, " must be at least 1"]) if {
	# 0 or -1 means "no limit" to many backends.
	value < 1
} else := msg if {
	cap := max(caps)
	value > cap
	msg := concat("", [arg, " ", number_text(value), " exceeds the maximum ", number_text(cap), " for your roles"])
}

# The caps the subject's own roles define for the argument.
argument_caps(name, arg) := [c |
	some role in roles
	c := role.argument_limits[name][arg]
	is_number(c)
]

# A number as JSON/JavaScript prints it: integers with the native format_int, anything else (rare)
# through sprintf, which the wasm runtime implements in JavaScript.
number_text(n) := format_int(n, 10) if {
	n == round(n)
	abs(n) < 1000000000000000
} else := sprintf("%v", [n])
