# Items: tools, prompts, resources (and resource templates in list replies). Role grants, explicit
# denies, clearance against the item's sensitivity, and the destructive permission. These are the
# rules `visible` uses, so anything `decision` allows is also visible.
package mcp.authz

# Per item kind: the role fields that grant and deny it, and the catalog section that describes it.
grant_fields := {"tool": "tools", "prompt": "prompts", "resource": "resources", "resource_template": "resources"}

deny_fields := {"tool": "deny_tools", "prompt": "deny_prompts", "resource": "deny_resources", "resource_template": "deny_resources"}

catalog_sections := {"tool": "tools", "prompt": "prompts", "resource": "resources", "resource_template": "resources"}

# Verbs for deny reasons.
item_verbs := {"tool": "call tool", "prompt": "use prompt", "resource": "access resource"}

# True when the subject could ever use the item: granted by a role, denied by none, clearance at
# least the item's sensitivity, and a destructive tool only with a role that may destroy.
usable(kind, name) if {
	granted(kind, name)
	not explicitly_denied(kind, name)
	clearance_ok(kind, name)
	destructive_ok(kind, name)
}

granted_by(role, kind, name) if any_match(data.authz.roles[role][grant_fields[kind]], name)

denied_by(role, kind, name) if any_match(data.authz.roles[role][deny_fields[kind]], name)

granted(kind, name) if {
	some role in known_roles
	granted_by(role, kind, name)
}

# An explicit deny from ANY of the subject's roles wins over every grant.
explicitly_denied(kind, name) if {
	some role in known_roles
	denied_by(role, kind, name)
}

clearance_ok(kind, name) if {
	rank(subject_clearance) >= rank(item_sensitivity(kind, name))
}

# Sensitivity from the catalog: exact name, else (resources) the highest level among entries whose
# "match" globs match the URI, else data.authz.default_sensitivity.
item_sensitivity(kind, name) := s if {
	s := data.authz.catalog[catalog_sections[kind]][name].sensitivity
	is_string(s)
} else := data.authz.sensitivity_levels[i] if {
	catalog_sections[kind] == "resources"
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

# Destructive: the catalog says so, or the upstream's own annotation does (the only source for a
# tool the catalog does not know).
destructive(kind, name) if {
	kind == "tool"
	data.authz.catalog.tools[name].destructive == true
}

destructive(kind, _) if {
	kind == "tool"
	input.resource.annotations.destructiveHint == true
}

destructive_ok(kind, name) if not destructive(kind, name)

destructive_ok(kind, name) if {
	destructive(kind, name)
	role_flag("destructive")
}

# ---------------------------------------------------------------------------
# Deny reasons for the addressed item
# ---------------------------------------------------------------------------

deny_reasons contains msg if {
	name := item_name
	not granted(item_kind, name)
	msg := may_not(sprintf("%s %s", [item_verbs[item_kind], name]))
}

deny_reasons contains msg if {
	name := item_name
	some role in known_roles
	denied_by(role, item_kind, name)
	msg := sprintf("role %s may not %s %s", [role, item_verbs[item_kind], name])
}

deny_reasons contains msg if {
	name := item_name
	not clearance_ok(item_kind, name)
	msg := sprintf("%s %s needs clearance %s, you have %s", [item_kind, name, item_level, clearance_label])
}

deny_reasons contains msg if {
	name := item_name
	not destructive_ok(item_kind, name)
	msg := may_not(sprintf("call destructive tool %s", [name]))
}

default clearance_label := "none"

clearance_label := subject_clearance
