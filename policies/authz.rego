# The default mcp-authz policy: entrypoints, the subject, and the decision's obligations.
#
# Entrypoints (both always defined):
#   decision  one JSON-RPC request  -> {allow, reasons, obligations, sensitivity, required_scopes}
#   visible   one item of a list reply -> boolean
#
# Everything a policy author tunes lives in data.json (data.authz.*); see README.md.
# Only builtins that the JS wasm runtime implements may be used here (the build enforces it).
#
# The decision is evaluated for every request, so the rules are written for the wasm runtime's
# costs (README.md "How the decision is computed"): few rules (each evaluated rule costs about as
# much as a dozen lookups), helper functions taking values, and deny reasons built only for denied
# requests.
package mcp.authz

# ---------------------------------------------------------------------------
# Entrypoint: decision
# ---------------------------------------------------------------------------

# Safety net: every part below has its own default, so this is only reached if one of them
# somehow fails to evaluate. It denies.
default decision := {
	"allow": false,
	"reasons": ["the policy could not reach a decision"],
	"obligations": {
		"rate_limit": {"capacity": 1, "refill_per_second": 1},
		"mask_arguments": [],
		"audit": "full",
	},
	"sensitivity": "unknown",
}

decision := {
	"allow": allow,
	"reasons": reasons(allow),
	"obligations": {
		"rate_limit": rate_limit(roles),
		"mask_arguments": sort(masked_argument_names),
		"audit": audit(sensitivity),
	},
	"sensitivity": sensitivity,
	"required_scopes": required_scopes(allow),
}

default allow := false

# Allowed only when the request is positively permitted (an always-allowed method, or an item the
# caller may use) AND no rule produced a deny reason. Computed from the conditions, so an allowed
# request never builds deny_reasons; for every request
#   allow == authenticated AND (always-allowed method OR item usable) AND count(deny_reasons) == 0
# (decision_test.rego checks it). Item rules belong in item_checks() and usable_by() (items.rego),
# call-time rules in call_denials (tools.rego, restricted.rego); deny_reasons includes every call
# denial.
allow if {
	authenticated_subject(input.subject)
	usable_by(item_check)
	count(call_denials) == 0
} else if {
	authenticated_subject(input.subject)
	not item_kind
	always_allowed(input.action.method)
}

# The reasons are only built for a denied request. Call as reasons(allow).
reasons(allowed) := [] if {
	allowed
} else := rs if {
	rs := sort(deny_reasons)
	count(rs) > 0
} else := ["request denied by policy"]

# The OAuth scopes a denied tool call lacks (tools.rego), named only when they are all that stands in
# its way: a call denied for another reason too would be denied again after the step-up (and would
# show a caller that may never use the tool which scopes it needs). Empty when allowed. Call as
# required_scopes(allow).
required_scopes(allowed) := [] if {
	allowed
} else := sort(missing_tool_scopes) if {
	not item_refused_outright
	count(deny_reasons) == count(missing_tool_scopes)
} else := []

# ---------------------------------------------------------------------------
# Entrypoint: visible
# ---------------------------------------------------------------------------

# Could the caller EVER use this list item? Role grants, explicit denies, clearance, the destructive
# permission, and a resource URI's tenant: arguments, time and network are decided at call time.
default visible := false

visible if {
	authenticated
	usable(input.resource.kind, input.resource.name)
	not other_tenants_resource(input.resource)
}

# A listed resource whose URI names another tenant (tools.rego): never readable by this caller.
other_tenants_resource(item) if {
	item.kind == "resource"
	count(resource_tenant_denials(item.name)) > 0
}

# ---------------------------------------------------------------------------
# The subject
# ---------------------------------------------------------------------------

authenticated if authenticated_subject(input.subject)

authenticated_subject(subject) if {
	id := subject.id
	is_string(id)
	id != ""
}

# The caller's role names as sent (strings only); roles unknown to data grant nothing.
subject_roles := {r | some r in input.subject.roles; is_string(r)}

# The subject's roles that data defines, by name: {"analyst": {…its definition…}}.
roles := {r: role | some r in input.subject.roles; role := data.authz.roles[r]; is_object(role)}

# The subject's tenant (a non-empty string), else null. Call as subject_tenant(input).
subject_tenant(request) := t if {
	t := request.subject.tenant
	is_string(t)
	t != ""
} else := null

# The rank of the subject's clearance. An explicit clearance wins, even one that data does not
# know (rank -1: below every level); else the highest default clearance of its roles.
# Call as subject_rank(roles).
subject_rank(defs) := r if {
	c := input.subject.clearance
	explicit_clearance(c)
	r := explicit_rank(c)
} else := r if {
	# One known role (the common case): its clearance, nothing to compare.
	count(defs) == 1
	some role in defs
	r := rank(role.clearance)
} else := max(ranks) if {
	ranks := [k | some role in defs; k := rank(role.clearance)]
	count(ranks) > 0
}

explicit_clearance(c) if {
	is_string(c)
	c != ""
}

explicit_rank(level) := i if {
	i := rank(level)
} else := -1

# The subject's clearance level by name, for messages.
subject_clearance := c if {
	c := input.subject.clearance
	explicit_clearance(c)
} else := data.authz.sensitivity_levels[subject_rank(roles)]

# Position of a sensitivity level in data.authz.sensitivity_levels (0 = lowest); undefined if unknown.
rank(level) := i if {
	some i, l in data.authz.sensitivity_levels
	l == level
}

# Whether one of the subject's roles has the flag ("destructive", "cross_tenant") set to true.
role_flag(name) if {
	some role in roles
	role[name] == true
}

# "role guest" / "roles analyst, user"; undefined when the subject has no roles.
roles_label := concat("", ["role ", concat(", ", sort(subject_roles))]) if {
	count(subject_roles) == 1
} else := concat("", ["roles ", concat(", ", sort(subject_roles))]) if {
	count(subject_roles) > 1
}

# "role guest may not <what>" or, without roles, "you have no role that may <what>".
may_not(what) := concat(" may not ", [roles_label, what]) if {
	count(subject_roles) > 0
} else := concat("", ["you have no role that may ", what])

# ---------------------------------------------------------------------------
# Obligations
# ---------------------------------------------------------------------------

# The most generous tier among the roles: highest capacity, then highest refill; the default tier
# when no role has one. Call as rate_limit(roles).
rate_limit(defs) := {"capacity": rl.capacity, "refill_per_second": rl.refill_per_second} if {
	# One role (the common case): its tier, nothing to compare.
	count(defs) == 1
	some role in defs
	rl := role.rate_limit
	is_number(rl.capacity)
	is_number(rl.refill_per_second)
} else := {"capacity": capacity, "refill_per_second": refill} if {
	tiers := [rl |
		some role in defs
		rl := role.rate_limit
		is_number(rl.capacity)
		is_number(rl.refill_per_second)
	]
	count(tiers) > 0
	capacity := max([rl.capacity | some rl in tiers])
	refill := max([rl.refill_per_second | some rl in tiers; rl.capacity == capacity])
} else := rl if {
	rl := data.authz.default_rate_limit
} else := {"capacity": 1, "refill_per_second": 1}

# Argument names the audit log and traces must mask: the global list plus the tool's own.
masked_argument_names contains a if {
	some a in data.authz.mask_arguments_always
	is_string(a)
}

masked_argument_names contains a if {
	item_kind == "tool"
	some a in data.authz.catalog.tools[item_name].mask_arguments
	is_string(a)
}

# "full" for the configured sensitivities, "minimal" for the other known levels, and "full" for
# anything unexpected.
audit(level) := "full" if {
	level in data.authz.audit.full_sensitivities
} else := "minimal" if {
	level in data.authz.sensitivity_levels
} else := "full"

# The sensitivity of what the request touches: the item's for tools/prompts/resources, the lowest
# level for protocol methods.
default sensitivity := "unknown"

sensitivity := s if {
	s := item_level
} else := data.authz.default_sensitivity if {
	is_string(item_kind)
} else := data.authz.sensitivity_levels[0]

# ---------------------------------------------------------------------------
# Deny reasons (only evaluated for a denied request)
# ---------------------------------------------------------------------------

# Method and item reasons are added in methods.rego and items.rego; the call-time ones are here.
deny_reasons contains msg if {
	not item_refused_outright
	some msg in call_denials
}
