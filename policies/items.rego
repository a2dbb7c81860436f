# Items: tools, prompts, resources (and resource templates, listed or completed). Role grants,
# explicit denies, clearance against the item's sensitivity, and the destructive permission. These are
# the rules `visible` uses, so anything `decision` allows is also visible.
package mcp.authz

# True when the subject could ever use the item: granted by a role, denied by none, clearance at
# least the item's sensitivity, and a destructive tool only with a role that may destroy.
usable(kind, name) if usable_by(item_checks(kind, name, item_sensitivity(kind, name)))

# The subject-and-item conditions, each evaluated once: `visible` and `decision` both use them, and
# the decision's deny reasons read them. Every condition that depends only on the subject and the
# item belongs here and in usable_by().
item_checks(kind, name, level) := {
	"granted": granted(kind, name),
	"denied_by": denying_roles(kind, name),
	"clearance_ok": clearance_ok(level),
	"destructive_ok": destructive_ok(kind, name),
}

usable_by(checks) if {
	checks.granted
	count(checks.denied_by) == 0
	checks.clearance_ok
	checks.destructive_ok
}

# The checks of the item the request addresses (evaluated once per decision). A null level (data
# without a default sensitivity) ranks nowhere.
item_check := item_checks(item_kind, item_name, level) if {
	level := item_level
} else := item_checks(item_kind, item_name, null)

# Per item kind: the role field that grants it (also the catalog section that describes it) and the
# one that denies it.
grant_field(kind) := "tools" if {
	kind == "tool"
} else := "prompts" if {
	kind == "prompt"
} else := "resources" if {
	kind == "resource"
} else := "resources" if {
	kind == "resource_template"
}

deny_field(kind) := "deny_tools" if {
	kind == "tool"
} else := "deny_prompts" if {
	kind == "prompt"
} else := "deny_resources" if {
	kind == "resource"
} else := "deny_resources" if {
	kind == "resource_template"
}

# (true or false, like clearance_ok and destructive_ok: item_checks records the answers.)
granted(kind, name) if {
	field := grant_field(kind)
	some role in roles
	any_match(role[field], name)
} else := false

# The names of the subject's roles that deny the item. An explicit deny from ANY of the subject's
# roles wins over every grant.
denying_roles(kind, name) := {r |
	field := deny_field(kind)
	some r, role in roles
	any_match(role[field], name)
}

clearance_ok(level) if {
	subject_rank(roles) >= rank(level)
} else := false

# Sensitivity from the catalog: exact name, else (resources) the highest level among entries whose
# "match" globs match the URI, else data.authz.default_sensitivity.
item_sensitivity(kind, name) := s if {
	s := data.authz.catalog[grant_field(kind)][name].sensitivity
	is_string(s)
} else := data.authz.sensitivity_levels[i] if {
	grant_field(kind) == "resources"
	ranks := [k |
		some entry in data.authz.catalog.resources
		any_match(entry.match, name)
		k := rank(entry.sensitivity)
	]
	count(ranks) > 0
	i := max(ranks)
} else := data.authz.default_sensitivity

# The sensitivity of the item the request addresses (evaluated once per decision).
item_level := item_sensitivity(item_kind, item_name)

# Destructive: the catalog says so, or the upstream's own hints do not rule it out (the only source
# for a tool the catalog does not know). As in MCP, a tool is destructive unless it says it is
# read-only (readOnlyHint true) or not destructive (destructiveHint false): a hint left out, null
# or not a boolean keeps the MCP default, destructive.
destructive(kind, name) if {
	kind == "tool"
	data.authz.catalog.tools[name].destructive == true
} else if {
	kind == "tool"
	not input.resource.annotations.readOnlyHint == true
	not input.resource.annotations.destructiveHint == false
}

destructive_ok(kind, name) if {
	not destructive(kind, name)
} else if {
	role_flag("destructive")
} else := false

# ---------------------------------------------------------------------------
# Deny reasons for the addressed item (only evaluated for a denied request)
# ---------------------------------------------------------------------------

deny_reasons contains msg if {
	name := item_name
	item_check.granted == false
	msg := may_not(concat(" ", [item_verb(item_kind), name]))
}

deny_reasons contains msg if {
	name := item_name
	some role in item_check.denied_by
	msg := concat("", ["role ", role, " may not ", item_verb(item_kind), " ", name])
}

# An item the caller's roles do not grant, or one a role denies, is refused for that alone: the caller
# learns nothing more about it (its sensitivity, whether it is destructive, that it exists at all).
item_refused_outright if item_check.granted == false

item_refused_outright if count(item_check.denied_by) > 0

deny_reasons contains msg if {
	name := item_name
	not item_refused_outright
	item_check.clearance_ok == false
	msg := concat("", [kind_words(item_kind), " ", name, " needs clearance ", item_level, ", you have ", clearance_label])
}

deny_reasons contains msg if {
	name := item_name
	not item_refused_outright
	item_check.destructive_ok == false
	msg := may_not(concat("", ["call destructive tool ", name]))
}

item_verb(kind) := "call tool" if {
	kind == "tool"
} else := "use prompt" if {
	kind == "prompt"
} else := "access resource" if {
	kind == "resource"
} else := "access resource template" if {
	kind == "resource_template"
}

# The item kind in words, for messages.
kind_words(kind) := "resource template" if {
	kind == "resource_template"
} else := kind

default clearance_label := "none"

clearance_label := subject_clearance
