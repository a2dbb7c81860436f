# JSON-RPC methods: which are protocol plumbing any authenticated caller may use, which touch an
# item (tool, prompt, resource) and go through the item rules, and which are refused.
package mcp.authz

# MCP protocol facts (not policy choices): the methods that address one item, the item kind, and
# the action field that names the item.
item_method_kinds := {
	"tools/call": "tool",
	"prompts/get": "prompt",
	"resources/read": "resource",
	"resources/subscribe": "resource",
	"resources/unsubscribe": "resource",
}

item_name_fields := {"tool": "tool", "prompt": "prompt", "resource": "uri"}

method := m if {
	m := input.action.method
	is_string(m)
}

item_kind := item_method_kinds[method]

# The addressed item: action.tool / action.prompt / action.uri, else resource.name.
item_name := n if {
	n := input.action[item_name_fields[item_kind]]
	is_string(n)
	n != ""
} else := n if {
	is_string(item_kind)
	n := input.resource.name
	is_string(n)
	n != ""
}

# Methods from data.authz.always_allowed_methods (names or globs, see globs.rego). Item methods
# never qualify: they always go through the item rules.
always_allowed_method if {
	is_string(method)
	not item_method_kinds[method]
	any_match(data.authz.always_allowed_methods, method)
}

method_permitted if always_allowed_method

method_permitted if usable(item_kind, item_name)

# ---------------------------------------------------------------------------
# Deny reasons
# ---------------------------------------------------------------------------

deny_reasons contains "authentication required" if not authenticated

deny_reasons contains "the request has no method" if not method

deny_reasons contains msg if {
	is_string(method)
	not item_method_kinds[method]
	not always_allowed_method
	msg := sprintf("method %s is not allowed", [method])
}

deny_reasons contains msg if {
	is_string(item_kind)
	not item_name
	msg := sprintf("%s needs a %s %s", [method, item_kind, item_name_words[item_kind]])
}

item_name_words := {"tool": "name", "prompt": "name", "resource": "uri"}
