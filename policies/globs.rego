# Pattern matching for every list of names in data.json (methods, tools, prompts, resource URIs).
#
# A pattern matches a name when it is equal to it, or when glob.match(pattern, ["/"], name) holds:
# "*" matches any characters except "/", "**" matches any characters, plus the rest of glob syntax
# (?, [abc], {a,b}). Tool and prompt names have no "/", so "*" matches every name; in resource URIs
# "*" stays inside one path segment.
#
# This runs for every decision, so it is written for the wasm runtime's costs: glob.match compiles a
# regular expression on every call (its cache does not outlive one evaluation), so exact names and
# the common shapes "P*" ("delete_*", "*") and "P**" ("docs://**", "**") are matched with plain
# string builtins; only other glob syntax reaches glob.match. globs_test.rego checks that both paths
# agree.
package mcp.authz

glob_delimiters := ["/"]

# True when any of the patterns matches the name.
any_match(patterns, name) if {
	name in patterns
} else if {
	some pattern in patterns
	pattern_matches(pattern, name)
}

# Whether a pattern that is not equal to the name (any_match has checked that) matches it as a glob;
# false or undefined when it does not. Cheapest checks first: most patterns are plain names.
pattern_matches(pattern, name) := m if {
	contains(pattern, "*")
	m := star_pattern_matches(pattern, name)
} else := m if {
	has_glob_syntax_besides_star(pattern)
	m := glob.match(pattern, glob_delimiters, name)
}

star_pattern_matches(pattern, name) := m if {
	pattern == "*"
	m := star_matches("", name)
} else := m if {
	pattern == "**"
	m := is_string(name)
} else := m if {
	# "P**" (P without glob syntax): starts with P.
	endswith(pattern, "**")
	prefix := trim_suffix(pattern, "**")
	not has_glob_syntax(prefix)
	m := startswith(name, prefix)
} else := m if {
	# "P*" (P without glob syntax): starts with P and adds no "/".
	endswith(pattern, "*")
	prefix := trim_suffix(pattern, "*")
	not has_glob_syntax(prefix)
	m := star_matches(prefix, name)
} else := glob.match(pattern, glob_delimiters, name)

star_matches(prefix, name) if {
	startswith(name, prefix)
	not contains(trim_prefix(name, prefix), "/")
} else := false

# Glob syntax: * ? [ { and \ ("]" and "}" on their own are literal characters for glob.match).
has_glob_syntax(s) if {
	contains(s, "*")
} else if {
	has_glob_syntax_besides_star(s)
}

has_glob_syntax_besides_star(s) if {
	contains(s, "?")
} else if {
	contains(s, "[")
} else if {
	contains(s, "{")
} else if {
	contains(s, "\\")
}
