/**
 * Tests of a bundle's data with integers beyond 2^53 (src/policy/exact-data.ts), on a real compiled policy:
 * the policy reads them as the data files spell them, as OPA does. A body may only hold integers a double holds
 * exactly (others are refused), so the one JSON.parse rounded a listed account to must not be taken for it.
 *
 * @module
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/mcp/action.js';
import { parseBody } from '../../../src/mcp/jsonrpc.js';
import { readBundle } from '../../../src/policy/bundle.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { buildDecisionInput } from '../../../src/policy/input.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { buildBundle, defaultPolicyBundle, TRUSTED_FACTS } from '../../helpers/policy.js';
import { principal } from '../../helpers/principal.js';

let dir: string;
const engine = new PolicyEngine({
  decisionEntrypoint: 'mcp/authz/decision',
  visibleEntrypoint: 'mcp/authz/visible',
  logger: silentLogger(),
});

beforeAll(async () => {
  dir = await buildBundle('test/fixtures/policies/exact-data');
  await engine.load(await readBundle(dir));
}, 300_000);

/** Whether a tools/call naming `account` (written into the body as is) is allowed. */
function allows(account: string): boolean {
  const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"account":${account}}}}`;
  const m = parseBody(body).messages[0];
  if (m?.kind !== 'request') throw new Error('a request');
  const action = classify(m.method, m.id, m.params);
  return engine.decide(buildDecisionInput(principal(), action, undefined, TRUSTED_FACTS)).allow;
}

describe('bundle data holding integers beyond 2^53', () => {
  it('is read as its files spell it: the account JSON.parse rounds the listed one to is not allowed', () => {
    expect(allows('9007199254740992')).toBe(false);
    expect(allows('1')).toBe(true);
  });

  it('is read so in a nested data file too, its strings and fractions unchanged', () => {
    // The team's account is 2^64 − 1, which JSON.parse reads as 2^64 (a double holds 2^64 exactly).
    expect(allows('18446744073709551616')).toBe(false);
  });

  it('keeps the parsed data for everything else, and writes no text for data without such integers', async () => {
    const bundle = await readBundle(dir);
    expect(bundle.data).toEqual({
      accounts: [1, 9007199254740992],
      teams: { account: 2 ** 64, label: '9007199254740993', share: 0.25 },
    });
    expect(JSON.parse(bundle.dataJson ?? 'null')).toEqual(bundle.data);
    expect(bundle.dataJson).toContain('[1,9007199254740993]');
    expect((await readBundle(await defaultPolicyBundle())).dataJson).toBeUndefined();
  });
});
