# The default mcp-authz policy: entrypoints, the subject, and the decision's obligations.
#
# Entrypoints (both always defined):
#   decision  one JSON-RPC request  -> {allow, reasons, obligations, sensitivity}
#   visible   one item of a list reply -> boolean
#
# Everything a policy author tunes lives in data.json (data.authz.*); see README.md.
# Only builtins that the JS wasm runtime implements may be used here (the build enforces it).
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
	"reasons": reasons,
	"obligations": obligations,
	"sensitivity": sensitivity,
}

default allow := false

# Allowed only when the request is positively permitted (an always-allowed method, or an item the
# caller may use) AND no rule produced a deny reason.
allow if {
	authenticated
	method_permitted
	count(deny_reasons) == 0
}

reasons := [] if {
	allow
} else := rs if {
	rs := sort([r | some r in deny_reasons])
	count(rs) > 0
} else := ["request denied by policy"]

# ---------------------------------------------------------------------------
# Entrypoint: visible
# ---------------------------------------------------------------------------

# Could the caller EVER use this list item? Role grants, explicit denies, clearance and the
# destructive permission only: arguments, time, network and tenant are decided at call time.
default visible := false

visible if {
	authenticated
	usable(input.resource.kind, input.resource.name)
}

# ---------------------------------------------------------------------------
# The subject
# ---------------------------------------------------------------------------

authenticated if {
	is_string(input.subject.id)
	input.subject.id != ""
}

# The caller's role names as sent (strings only); roles unknown to data grant nothing.
subject_roles := {r | some r in input.subject.roles; is_string(r)}

known_roles := {r | some r in subject_roles; is_object(data.authz.roles[r])}

subject_tenant := t if {
	t := input.subject.tenant
	is_string(t)
	t != ""
}

# An explicit clearance on the subject wins; else the highest default clearance of its roles.
subject_clearance := c if {
	c := input.subject.clearance
	is_string(c)
	c != ""
} else := data.authz.sensitivity_levels[i] if {
	ranks := [k | some r in known_roles; k := rank(data.authz.roles[r].clearance)]
	count(ranks) > 0
	i := max(ranks)
}

# Position of a sensitivity level in data.authz.sensitivity_levels (0 = lowest); undefined if unknown.
rank(level) := i if {
	some i, l in data.authz.sensitivity_levels
	l == level
}

role_flag(name) if {
	some r in known_roles
	data.authz.roles[r][name] == true
}

# "role guest" / "roles analyst, user"; undefined when the subject has no roles.
roles_label := sprintf("role %s", [concat(", ", sort(subject_roles))]) if count(subject_roles) == 1

roles_label := sprintf("roles %s", [concat(", ", sort(subject_roles))]) if count(subject_roles) > 1

# "role guest may not <what>" or, without roles, "you have no role that may <what>".
may_not(what) := sprintf("%s may not %s", [roles_label, what]) if {
	count(subject_roles) > 0
} else := sprintf("you have no role that may %s", [what])

# ---------------------------------------------------------------------------
# Obligations
# ---------------------------------------------------------------------------

obligations := {
	"rate_limit": rate_limit,
	"mask_arguments": mask_arguments,
	"audit": audit,
}

# The most generous tier among the subject's roles: highest capacity, then highest refill.
role_rate_limits := [rl |
	some r in known_roles
	rl := data.authz.roles[r].rate_limit
	is_number(rl.capacity)
	is_number(rl.refill_per_second)
]

default rate_limit := {"capacity": 1, "refill_per_second": 1}

rate_limit := {"capacity": capacity, "refill_per_second": refill} if {
	count(role_rate_limits) > 0
	capacity := max([rl.capacity | some rl in role_rate_limits])
	refill := max([rl.refill_per_second | some rl in role_rate_limits; rl.capacity == capacity])
} else := data.authz.default_rate_limit

# Argument names the audit log and traces must mask: the global list plus the tool's own.
mask_arguments := sort([a | some a in masked_argument_names])

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
default audit := "full"

audit := "full" if {
	sensitivity in data.authz.audit.full_sensitivities
} else := "minimal" if {
	sensitivity in data.authz.sensitivity_levels
}

# The sensitivity of what the request touches: the item's for tools/prompts/resources, the lowest
# level for protocol methods.
default sensitivity := "unknown"

sensitivity := s if {
	s := item_level
} else := data.authz.default_sensitivity if {
	is_string(item_kind)
} else := data.authz.sensitivity_levels[0]
