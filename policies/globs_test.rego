# The fast paths of globs.rego must agree with "equal, or glob.match(pattern, ["/"], name)".
package mcp.authz_test

import data.mcp.authz

glob_patterns := [
	"echo", "*", "**", "delete_*", "delete_**", "notifications/*", "notifications/**",
	"crm://customers/*", "crm://customers/**", "docs://**", "crm://*/c-9", "read_?ustomer",
	"{echo,ping}", "[a-d]*", "*_customer", "a*b*", "", "crm://customers/{id}",
	"a]b", "a}b", "]", "}", "x]*", "x}**", "***", "\\*", "ech?*", "docs:/[/]**",
]

glob_names := [
	"echo", "ping", "", "delete_customer", "delete_", "delete_a/b", "notifications/initialized",
	"notifications/roots/list_changed", "notifications", "crm://customers/c-9",
	"crm://customers/c-9/notes", "crm://customers/{id}", "docs://handbook", "docs://a/b/c",
	"read_customer", "a_b", "delete_customer.v2", "wipe.cache", "*", "customers",
	"a]b", "a}b", "]", "}", "x]y", "x}/y", "x", "echo/x", "**", "docs://a",
]

test_pattern_matches_agrees_with_glob_match if {
	disagreements := [[p, n] |
		some p in glob_patterns
		some n in glob_names
		expected := reference_match(p, n)
		matched(p, n) != expected
	]
	disagreements == []
}

reference_match(p, n) if {
	p == n
} else := glob.match(p, ["/"], n)

matched(p, n) if {
	authz.any_match([p], n)
} else := false

test_pattern_matches_common_shapes if {
	authz.any_match(["*"], "run_sql")
	authz.any_match(["delete_*"], "delete_customer")
	not authz.any_match(["delete_*"], "update_customer")
	authz.any_match(["notifications/**"], "notifications/roots/list_changed")
	not authz.any_match(["notifications/*"], "notifications/roots/list_changed")
	authz.any_match(["crm://customers/*"], "crm://customers/c-9")
	not authz.any_match(["crm://customers/*"], "crm://customers/c-9/notes")
	authz.any_match(["{echo,ping}"], "ping")
	authz.any_match(["crm://customers/{id}"], "crm://customers/{id}")
	authz.any_match(["echo", "delete_*"], "delete_customer")
	not authz.any_match([], "echo")
	not authz.any_match(["echo", "delete_*"], "update_customer")
}
