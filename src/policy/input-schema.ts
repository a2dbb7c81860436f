/**
 * The policy input document as a schema: every field `buildDecisionInput` and `buildVisibleInput` write,
 * with its type. Its JSON Schema (`schema/policy-input.json`, `npm run docs:generate`) is what the policy
 * build type-checks Rego against (`opa check --schema`), so a misspelt field such as `input.subject.teant`
 * fails the build, naming the fields there are, instead of being undefined on every request. A unit test
 * parses what the input builders produce with it, so a field added there without being added here fails.
 *
 * OPA reads an object with listed properties as closed: a policy may name only those. The three objects
 * whose keys come from outside are open (`subject.claims`, `action.arguments`) or list what MCP defines
 * (`resource.annotations`: the tool hints, `title` and the sidecar's `seen`; any other annotation an upstream
 * sends is still there, read with `object.get`).
 *
 * @module
 */
import { z } from 'zod';

const open = z.record(z.string(), z.unknown());
const nullableString = z.string().nullable();

const Subject = z.strictObject({
  id: nullableString.describe('the subject (`sub` claim, or the API key’s subject); null when anonymous'),
  tenant: nullableString.describe('the tenant claim (configured path), or the key’s tenant'),
  roles: z.array(z.string()).describe('roles from the configured claim path, or the key’s'),
  scopes: z.array(z.string()).describe('granted scopes (`scope` string or `scp` array), or the key’s'),
  clearance: nullableString.describe('the clearance claim (configured path), or the key’s'),
  auth_method: z.enum(['jwt', 'introspection', 'api_key', 'anonymous']),
  key_id: nullableString.describe('the API key’s id; null for tokens'),
  claims: open.describe('the verified claims, or the key’s metadata; never the token'),
});

const args = open.describe('the arguments (`{}` when none, or not an object)');
/**
 * One shape per kind of request, not one object with optional fields: OPA reads listed properties as always
 * there, so `input.action == {"method": "ping"}` would be refused as comparing unlike objects.
 */
const OtherAction = z.strictObject({
  method: z.string().describe('any other method; for `visible`: the list method'),
});
const ToolCall = z.strictObject({ method: z.literal('tools/call'), tool: z.string(), arguments: args });
const PromptGet = z.strictObject({ method: z.literal('prompts/get'), prompt: z.string(), arguments: args });
const ResourceMethod = z.enum(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);
const ResourceAction = z.strictObject({
  method: ResourceMethod,
  uri: z.string().describe('the resource’s URI'),
});
/**
 * `completion/complete` of a prompt's or resource template's argument (MCP `ref/prompt`, `ref/resource`): decided
 * as a use of the item (`resource` is it), with the argument being completed and the arguments already filled in.
 */
const completionFields = {
  method: z.literal('completion/complete'),
  argument: z
    .strictObject({ name: z.string(), value: z.string().describe('what the caller has typed so far') })
    .describe('the argument being completed (`params.argument`)'),
  arguments: open.describe('the arguments already filled in (`params.context.arguments`; `{}` when none)'),
};
const PromptCompletion = z.strictObject({ ...completionFields, prompt: z.string() });
const TemplateCompletion = z.strictObject({
  ...completionFields,
  uri: z.string().describe('the resource template (or resource URI) as the ref writes it'),
});
const Action = z.union([
  OtherAction,
  ToolCall,
  PromptGet,
  ResourceAction,
  PromptCompletion,
  TemplateCompletion,
]);

// Typed as anything: an upstream's hint reaches the policy as it was listed (null, "false"), so a policy may
// compare it with anything. The names are what the check holds a policy to.
const hint = z.unknown().optional();
const Annotations = z
  .looseObject({
    title: hint,
    readOnlyHint: hint,
    destructiveHint: hint,
    idempotentHint: hint,
    openWorldHint: hint,
    seen: z.boolean().optional().describe('false: a tool the upstream has not listed (MCP defaults apply)'),
  })
  .describe('tools: the upstream’s annotations with the MCP defaults filled in; other kinds: {}');

const Resource = z.strictObject({
  kind: z.enum(['tool', 'prompt', 'resource', 'resource_template', 'method']),
  name: z.string().describe('tool or prompt name, resource URI or template, or the method'),
  annotations: Annotations,
});

const Context = z.strictObject({
  time: z.string().describe('RFC 3339, UTC'),
  hour: z.number().int().describe('0–23 in `timezone`'),
  minute: z.number().int().describe('0–59 in `timezone`'),
  weekday: z.number().int().describe('0 (Sunday) – 6 in `timezone`'),
  date: z.string().describe('YYYY-MM-DD in `timezone`'),
  timezone: z.string().describe('`policy.timezone`'),
  client_ip: z.string().describe('the client’s address (after trusted proxies)'),
  session_id: nullableString.describe('`Mcp-Session-Id`, or the legacy SSE session'),
  request_id: z.string().describe('the request’s id (audit record, `X-Request-Id`)'),
  environment: z.string().describe('`policy.environment`'),
  protocol_version: nullableString.describe('`MCP-Protocol-Version`, when sent'),
  transport: z.enum(['streamable-http', 'sse']),
});

export const PolicyInputSchema = z
  .strictObject({ subject: Subject, action: Action, resource: Resource, context: Context })
  .describe('The input of the decision and visible entrypoints (DESIGN.md, "The policy contract")');

/** Only the method, for an action whose method is missing or no string: its other fields are not judged. */
const MethodOnly = z.looseObject({ method: z.string() });

/**
 * The input schema with the one action shape the sidecar sends for `method` (the union's first error comes
 * from whichever shape failed first, so `{"method": "tools/call", "tool": "echo"}` would be reported against
 * the shape of "any other method" — `tool` unknown — instead of `arguments` missing). An action without a
 * string method is judged only on its method; a completion, on the shape its `uri` (else `prompt`) picks.
 */
export function policyInputSchemaFor(method: unknown, given?: unknown) {
  const action =
    method === 'tools/call'
      ? ToolCall
      : method === 'prompts/get'
        ? PromptGet
        : ResourceMethod.safeParse(method).success
          ? ResourceAction
          : method === 'completion/complete'
            ? completionShape(given)
            : typeof method === 'string'
              ? OtherAction
              : MethodOnly;
  return PolicyInputSchema.extend({ action });
}

/** A completion's action shape: a resource template's when it has a `uri`, else a prompt's. */
function completionShape(action: unknown) {
  return typeof action === 'object' && action !== null && 'uri' in action
    ? TemplateCompletion
    : PromptCompletion;
}
