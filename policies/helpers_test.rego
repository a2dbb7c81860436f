# Shared fixtures for the policy tests: inputs shaped exactly like the sidecar's.
package mcp.authz_test

import data.mcp.authz

# Monday 10:00 UTC from a trusted address in prod: inside every restricted-tool window.
office_hours := {
	"time": "2026-11-23T10:00:00Z",
	"hour": 10,
	"minute": 0,
	"weekday": 1,
	"date": "2026-11-23",
	"timezone": "UTC",
	"client_ip": "10.0.0.7",
	"session_id": "s-1",
	"request_id": "r-1",
	"environment": "prod",
}

at(overrides) := object.union(office_hours, overrides)

subject(roles) := {
	"id": "u-42",
	"tenant": "acme",
	"roles": roles,
	"scopes": ["mcp:tools"],
	"clearance": null,
	"auth_method": "jwt",
	"claims": {},
}

with_clearance(roles, clearance) := object.union(subject(roles), {"clearance": clearance})

# What the sidecar gives the policy: for a catalog tool, what the example server's tools/list says about
# it; for any other tool, the MCP defaults the sidecar fills in for a tool it has not seen listed.
annotations(tool) := {
	"readOnlyHint": object.get(t, "read_only", false),
	"destructiveHint": object.get(t, "destructive", false),
	"idempotentHint": false,
	"openWorldHint": true,
	"seen": true,
} if {
	t := data.authz.catalog.tools[tool]
} else := unseen_annotations

unseen_annotations := {
	"readOnlyHint": false,
	"destructiveHint": true,
	"idempotentHint": false,
	"openWorldHint": true,
	"seen": false,
}

call_input(subj, tool, args, ann, ctx) := {
	"subject": subj,
	"action": {"method": "tools/call", "tool": tool, "arguments": args},
	"resource": {"kind": "tool", "name": tool, "annotations": ann},
	"context": ctx,
}

call(roles, tool, args) := call_input(subject(roles), tool, args, annotations(tool), office_hours)

call_at(roles, tool, args, ctx) := call_input(subject(roles), tool, args, annotations(tool), ctx)

call_as(subj, tool, args) := call_input(subj, tool, args, annotations(tool), office_hours)

method_input(roles, method) := {
	"subject": subject(roles),
	"action": {"method": method},
	"resource": {"kind": "method", "name": method, "annotations": {}},
	"context": office_hours,
}

prompt_input(roles, name) := {
	"subject": subject(roles),
	"action": {"method": "prompts/get", "prompt": name, "arguments": {}},
	"resource": {"kind": "prompt", "name": name, "annotations": {}},
	"context": office_hours,
}

resource_input(roles, method, uri) := {
	"subject": subject(roles),
	"action": {"method": method, "uri": uri},
	"resource": {"kind": "resource", "name": uri, "annotations": {}},
	"context": office_hours,
}

list_methods := {
	"tool": "tools/list",
	"prompt": "prompts/list",
	"resource": "resources/list",
	"resource_template": "resources/templates/list",
}

list_item_input(subj, kind, name, ann) := {
	"subject": subj,
	"action": {"method": list_methods[kind]},
	"resource": {"kind": kind, "name": name, "annotations": ann},
	"context": office_hours,
}

decide(inp) := d if {
	d := authz.decision with input as inp
}

allowed(inp) if decide(inp).allow == true

denied_with(inp, reason) if {
	d := decide(inp)
	d.allow == false
	reason in d.reasons
}

seen(subj, kind, name, ann) := v if {
	v := authz.visible with input as list_item_input(subj, kind, name, ann)
}

visible_to(roles, kind, name) if seen(subject(roles), kind, name, {}) == true

tool_visible_to(roles, tool) if seen(subject(roles), "tool", tool, annotations(tool)) == true

# A decision is a complete object of the documented shape.
well_formed(d) if {
	is_boolean(d.allow)
	is_array(d.reasons)
	is_string(d.sensitivity)
	d.obligations.rate_limit.capacity > 0
	d.obligations.rate_limit.refill_per_second > 0
	is_array(d.obligations.mask_arguments)
	d.obligations.audit in {"full", "minimal"}
}
