# Call-time rules for tools/call that depend on the arguments: tenant isolation and numeric
# argument caps. (They do not affect `visible`.)
package mcp.authz

# The call's arguments; a missing or null `arguments` is treated as no arguments.
tool_args := a if {
	a := input.action.arguments
	is_object(a)
} else := {}

deny_reasons contains "arguments must be a JSON object" if {
	item_kind == "tool"
	a := input.action.arguments
	a != null
	not is_object(a)
}

# ---------------------------------------------------------------------------
# Tenant isolation
# ---------------------------------------------------------------------------

# The argument that names a tenant: the catalog's tenant_argument, else the default.
tenant_argument := t if {
	t := data.authz.catalog.tools[item_name].tenant_argument
	is_string(t)
} else := data.authz.default_tenant_argument

deny_reasons contains msg if {
	item_kind == "tool"
	arg := tenant_argument
	some key, _ in tool_args
	key == arg
	not role_flag("cross_tenant")
	not subject_tenant
	msg := sprintf("argument %s is not allowed: your identity has no tenant", [arg])
}

deny_reasons contains msg if {
	item_kind == "tool"
	arg := tenant_argument
	value := tool_args[arg]
	not role_flag("cross_tenant")
	value != subject_tenant
	msg := sprintf("argument %s must be your tenant %s", [arg, subject_tenant])
}

# ---------------------------------------------------------------------------
# Numeric argument caps (roles' argument_limits)
# ---------------------------------------------------------------------------

# Arguments of the called tool that ANY role caps.
limited_arguments contains arg if {
	item_kind == "tool"
	some role in data.authz.roles
	some arg, _ in role.argument_limits[item_name]
}

# The caps the subject's own roles define for the argument; the most generous one applies.
argument_caps(arg) := [c |
	some r in known_roles
	c := data.authz.roles[r].argument_limits[item_name][arg]
	is_number(c)
]

deny_reasons contains msg if {
	some arg in limited_arguments
	value := tool_args[arg]
	not is_number(value)
	msg := sprintf("argument %s must be a number", [arg])
}

deny_reasons contains msg if {
	some arg in limited_arguments
	is_number(tool_args[arg])
	count(argument_caps(arg)) == 0
	msg := sprintf("argument %s of tool %s is not allowed for your roles", [arg, item_name])
}

deny_reasons contains msg if {
	some arg in limited_arguments
	value := tool_args[arg]
	is_number(value)
	cap := max(argument_caps(arg))
	value > cap
	msg := sprintf("%s %v exceeds the maximum %v for your roles", [arg, value, cap])
}
