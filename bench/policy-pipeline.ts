/**
 * The pipeline `npm run bench:policy` times, shared with `bench/policy-perf/cpu.ts`: an engine per bundle,
 * four rotating `tools/call` cases (two allowed, two denied with several reasons), and one decision =
 * classify → build the policy input → `PolicyEngine.decide`.
 *
 * @module
 */
import type { Principal } from '../src/authn/principal.js';
import { classify } from '../src/mcp/action.js';
import { readBundle } from '../src/policy/bundle.js';
import { PolicyEngine } from '../src/policy/engine.js';
import { buildDecisionInput, type RequestFacts } from '../src/policy/input.js';
import { silentLogger } from '../src/telemetry/logger.js';

/** An engine with the bundle at `location` loaded; `cached` turns the decision cache on. */
export async function engineFor(location: string, cached = false): Promise<PolicyEngine> {
  const e = new PolicyEngine({
    decisionEntrypoint: 'mcp/authz/decision',
    visibleEntrypoint: 'mcp/authz/visible',
    logger: silentLogger(),
    ...(cached ? { cache: { enabled: true, maxEntries: 10_000 } } : {}),
  });
  await e.load(await readBundle(location));
  return e;
}

const subject = (roles: string[]): Principal => ({
  id: 'u-42',
  tenant: 'acme',
  roles,
  scopes: ['mcp:tools'],
  clearance: null,
  authMethod: 'jwt',
  claims: { sub: 'u-42', iss: 'https://issuer.example', aud: 'https://mcp.example/mcp' },
});

export interface BenchCase {
  readonly label: string;
  readonly p: Principal;
  readonly tool: string;
  readonly args: Record<string, unknown>;
}

export const CASES: readonly BenchCase[] = [
  {
    label: 'allow analyst read_customer',
    p: subject(['analyst']),
    tool: 'read_customer',
    args: { tenant: 'acme', id: 'c-1' },
  },
  {
    label: 'deny user delete_customer',
    p: subject(['user']),
    tool: 'delete_customer',
    args: { tenant: 'acme', id: 'c-1' },
  },
  {
    label: 'allow premium query',
    p: subject(['premium']),
    tool: 'query_customer_data',
    args: { tenant: 'acme', query: 'q', limit: 10 },
  },
  {
    label: 'deny guest export',
    p: subject(['guest']),
    tool: 'export_customers',
    args: { tenant: 'globex', limit: 5000, format: 'csv' },
  },
];

const annotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
  seen: true,
};

const facts = (i: number): RequestFacts => ({
  now: new Date(),
  clientIp: '10.0.0.7',
  sessionId: 'sess-1',
  requestId: `r-${i}`,
  environment: 'prod',
  timezone: 'UTC',
});

/** One decision of case `c` (request number `i`); whether it was allowed. */
export function decideOnce(engine: PolicyEngine, c: BenchCase, i: number): boolean {
  const action = classify('tools/call', i, { name: c.tool, arguments: c.args });
  return engine.decide(buildDecisionInput(c.p, action, annotations, facts(i))).allow;
}
