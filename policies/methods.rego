# JSON-RPC methods: which are protocol plumbing any authenticated caller may use, which touch an
# item (tool, prompt, resource) and go through the item rules, and which are refused.
package mcp.authz

method := m if {
	m := input.action.method
	is_string(m)
}

# MCP protocol facts (not policy choices): the methods that address one item, and the item kind.
# (Else chains rather than lookup tables here and below: a table is rebuilt on every evaluation.)
item_kind := kind_of_method(input.action.method)

kind_of_method(m) := "tool" if {
	m == "tools/call"
} else := "prompt" if {
	m == "prompts/get"
} else := "resource" if {
	m == "resources/read"
} else := "resource" if {
	m == "resources/subscribe"
} else := "resource" if {
	m == "resources/unsubscribe"
} else := kind if {
	m == "completion/complete"
	kind := completion_kind(input.action)
}

# completion/complete is decided as a use of the item its ref names: a prompt (action.prompt) or a resource
# template (action.uri, the template as written). A ref naming neither has no item kind, and is refused below.
completion_kind(action) := "prompt" if {
	is_string(action.prompt)
} else := "resource_template" if {
	is_string(action.uri)
}

# The action field that names the item.
name_field(kind) := "uri" if {
	kind == "resource"
} else := "uri" if {
	kind == "resource_template"
} else := kind

# The addressed item: action.tool / action.prompt / action.uri, else resource.name.
item_name := n if {
	n := input.action[name_field(item_kind)]
	is_string(n)
	n != ""
} else := n if {
	is_string(item_kind)
	n := input.resource.name
	is_string(n)
	n != ""
}

# Methods from data.authz.always_allowed_methods (names or globs, see globs.rego). Item methods
# never qualify (the caller checks `not item_kind`): they always go through the item rules. Nor does
# completion/complete, even when its ref names no item: it is only ever decided on its item.
always_allowed(m) if {
	is_string(m)
	m != "completion/complete"
	any_match(data.authz.always_allowed_methods, m)
}

# ---------------------------------------------------------------------------
# Deny reasons
# ---------------------------------------------------------------------------

deny_reasons contains "authentication required" if not authenticated

deny_reasons contains "the request has no method" if not method

deny_reasons contains msg if {
	is_string(method)
	not item_kind
	not always_allowed(method)
	msg := method_denial(method)
}

method_denial(m) := "completion/complete needs a ref to a prompt or a resource template" if {
	m == "completion/complete"
} else := concat("", ["method ", m, " is not allowed"])

deny_reasons contains msg if {
	is_string(item_kind)
	not item_name
	msg := concat("", [method, " needs a ", kind_words(item_kind), " ", item_name_word(item_kind)])
}

item_name_word(kind) := "uri" if {
	name_field(kind) == "uri"
} else := "name"
