/**
 * The policy input schema (src/policy/input-schema.ts) against what the input builders write: every shape of
 * input the sidecar hands the policy parses, and the schema is strict, so a field added to the builders and
 * not to the schema (which the policy build type-checks Rego against) fails here.
 */
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Principal } from '../../../src/authn/principal.js';
import { classify } from '../../../src/mcp/action.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { buildDecisionInput, buildVisibleInput, type RequestFacts } from '../../../src/policy/input.js';
import { PolicyInputSchema, policyInputSchemaFor } from '../../../src/policy/input-schema.js';

const jwt: Principal = {
  id: 'alice',
  tenant: 'acme',
  roles: ['analyst'],
  scopes: ['mcp:tools'],
  clearance: 'confidential',
  authMethod: 'jwt',
  tokenId: 'j1',
  expiresAt: 2_000_000_000,
  claims: { sub: 'alice', realm_access: { roles: ['analyst'] } },
};
const key: Principal = { ...jwt, authMethod: 'api_key', keyId: 'k1', tenant: null, clearance: null };

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  now: new Date('2026-12-06T13:30:00Z'),
  clientIp: '203.0.113.7',
  sessionId: null,
  requestId: 'r1',
  environment: 'prod',
  timezone: 'Europe/Berlin',
  ...over,
});

const requests: [string, unknown][] = [
  ['tools/call', { name: 'search', arguments: { q: 'x', nested: { deep: [1] } } }],
  ['tools/call', { name: 'search' }],
  ['tools/call', { name: 'odd', arguments: [1, 2] }],
  ['prompts/get', { name: 'summary', arguments: { topic: 'x' } }],
  ['resources/read', { uri: 'file:///a' }],
  ['resources/subscribe', { uri: 'file:///a' }],
  ['tools/list', {}],
  ['initialize', { protocolVersion: '2025-11-25' }],
  ['ping', undefined],
  [
    'completion/complete',
    {
      ref: { type: 'ref/prompt', name: 'summary' },
      argument: { name: 'topic', value: 'x' },
      context: { arguments: { lang: 'en' } },
    },
  ],
  [
    'completion/complete',
    { ref: { type: 'ref/resource', uri: 'crm://{tenant}/x/{id}' }, argument: { name: 'id', value: '' } },
  ],
  ['completion/complete', { ref: { type: 'ref/tool', name: 'x' } }],
];

function parsesAll(inputs: unknown[]): void {
  for (const input of inputs) {
    const r = PolicyInputSchema.safeParse(input);
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  }
}

describe('policy input schema', () => {
  it('takes every decision input the builders write, for every principal and request kind', () => {
    const annotations = new AnnotationCache();
    annotations.learn(
      new Map<string, Record<string, unknown>>([
        ['search', { readOnlyHint: true, title: 'Search', vendorHint: 'x' }],
        // An upstream's hints reach the policy as listed, whatever their type.
        ['odd', { readOnlyHint: null, destructiveHint: 'false', title: null }],
      ]),
    );
    const inputs = [];
    for (const principal of [jwt, key, ANONYMOUS]) {
      for (const [method, params] of requests) {
        const action = classify(method, 1, params);
        const ann = action.tool === undefined ? undefined : annotations.get(action.tool);
        inputs.push(buildDecisionInput(principal, action, ann, facts()));
        inputs.push(
          buildDecisionInput(principal, action, annotations.get('never-listed'), {
            ...facts({ sessionId: 's1', protocolVersion: '2025-06-18', transport: 'sse' }),
          }),
        );
      }
    }
    parsesAll(inputs);
  });

  it('takes every visible input the list filters write', () => {
    const inputs = (['tool', 'prompt', 'resource', 'resource_template'] as const).map((kind) =>
      buildVisibleInput(
        jwt,
        `${kind}s/list`,
        kind,
        'name',
        kind === 'tool' ? { seen: true } : undefined,
        facts(),
      ),
    );
    parsesAll(inputs);
  });

  it('is strict: a field the builders do not write is refused, at every level', () => {
    const base = buildDecisionInput(jwt, classify('tools/call', 1, { name: 'search' }), undefined, facts());
    for (const bad of [
      { ...base, extra: 1 },
      { ...base, subject: { ...base.subject, teant: 'acme' } },
      { ...base, action: { ...base.action, toolName: 'search' } },
      { ...base, resource: { ...base.resource, sensitivity: 'high' } },
      { ...base, context: { ...base.context, tenant: 'acme' } },
    ]) {
      expect(PolicyInputSchema.safeParse(bad).success).toBe(false);
    }
    // The open parts stay open: claims, arguments and an upstream's own annotations.
    const open = {
      ...base,
      subject: { ...base.subject, claims: { anything: [1] } },
      action: { ...base.action, arguments: { any: { thing: true } } },
      resource: { ...base.resource, annotations: { vendorHint: 1 } },
    };
    expect(PolicyInputSchema.safeParse(open).success).toBe(true);
  });

  it('holds a completion to the shape of its item: a prompt’s, or a resource template’s', () => {
    const complete = (ref: unknown) =>
      buildDecisionInput(
        jwt,
        classify('completion/complete', 1, { ref, argument: { name: 'a', value: 'b' } }),
        undefined,
        facts(),
      );
    for (const input of [
      complete({ type: 'ref/prompt', name: 'p' }),
      complete({ type: 'ref/resource', uri: 'file:///{path}' }),
    ]) {
      expect(policyInputSchemaFor(input.action.method, input.action).safeParse(input).success).toBe(true);
    }
    const prompt = complete({ type: 'ref/prompt', name: 'p' });
    const noArgument = { ...prompt, action: { method: 'completion/complete', prompt: 'p', arguments: {} } };
    const issues = policyInputSchemaFor('completion/complete', noArgument.action).safeParse(noArgument).error
      ?.issues;
    expect(issues?.map((i) => i.path.join('.'))).toEqual(['action.argument']);
    const both = { ...prompt, action: { ...prompt.action, uri: 'file:///x' } };
    expect(PolicyInputSchema.safeParse(both).success).toBe(false);
  });
});
