# Pattern matching for every list of names in data.json (methods, tools, prompts, resource URIs).
#
# A pattern matches a name when it is equal to it, or when glob.match(pattern, ["/"], name) holds:
# "*" matches any characters except "/", "**" matches any characters, plus the rest of glob syntax
# (?, [abc], {a,b}). Tool and prompt names have no "/", so "*" matches every name; in resource URIs
# "*" stays inside one path segment.
#
# The wasm runtime compiles a regular expression on every glob.match call (its cache does not outlive
# one evaluation), so exact names and the common shapes "P*" ("delete_*", "*") and "P**"
# ("docs://**", "**") are matched with plain string builtins; only other glob syntax reaches
# glob.match. globs_test.rego checks that both paths agree.
package mcp.authz

glob_delimiters := ["/"]

# True when any of the patterns matches the name.
any_match(patterns, name) if {
	name in patterns
} else if {
	some pattern in patterns
	pattern_matches(pattern, name)
}

# true/false when the pattern is a glob; undefined for a plain name that is not equal.
pattern_matches(pattern, name) if {
	pattern == name
} else := m if {
	stars := star_suffix(pattern)
	m := prefix_matches(stars, split(pattern, "*")[0], name)
} else := m if {
	has_glob_syntax(pattern)
	m := glob.match(pattern, glob_delimiters, name)
}

# "P*": starts with P and adds no "/".
prefix_matches(1, prefix, name) if {
	startswith(name, prefix)
	count(split(name, "/")) == count(split(prefix, "/"))
} else := false

# "P**": starts with P.
prefix_matches(2, prefix, name) := startswith(name, prefix)

# 1 for "P*", 2 for "P**" (P without glob syntax); undefined for any other pattern.
star_suffix(pattern) := n if {
	endswith(pattern, "*")
	parts := split(pattern, "*")
	n := count(parts) - 1
	n in {1, 2}
	not has_glob_syntax(parts[0])
	count([p | some i, p in parts; i > 0; p != ""]) == 0
}

has_glob_syntax(s) if {
	some c in ["*", "?", "[", "]", "{", "}", "\\"]
	contains(s, c)
}
