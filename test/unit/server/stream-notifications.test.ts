/**
 * Tests of the notification check of event streams (src/server/stream-notifications.ts) with a fake engine:
 * only `notifications/resources/updated` is decided, as a `resources/subscribe` of its URI in canonical
 * form with the clock read when it arrives; a refusal drops it, except in a dry run, which never passes an
 * anonymous caller what the policy refuses.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { ANONYMOUS } from '../../../src/authn/principal.js';
import type { Decision } from '../../../src/policy/decision.js';
import type { PolicyEngine } from '../../../src/policy/engine.js';
import type { PolicyInput } from '../../../src/policy/input.js';
import { streamNotifications } from '../../../src/server/stream-notifications.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { TRUSTED_FACTS } from '../../helpers/policy.js';
import { principal } from '../../helpers/principal.js';
import { contextFor, fakeRequest } from '../pipeline/fake-request.js';

function check(dryRun: boolean, caller = principal({ id: 'alice' })) {
  const inputs: PolicyInput[] = [];
  const engine = {
    revision: 'r1',
    decide(input: PolicyInput): Decision {
      inputs.push(input);
      const allow = !String(input.action.uri).includes('secret');
      return {
        allow,
        reasons: allow ? [] : ['no'],
        obligations: {},
        sensitivity: undefined,
        revision: 'r1',
        evalNs: 1,
      };
    },
  } as unknown as PolicyEngine;
  const now = Date.parse('2026-11-23T22:00:00Z');
  const deps = { engine, logger: silentLogger(), now: () => now, dryRun };
  return { inputs, pass: streamNotifications(deps, contextFor(fakeRequest({})), caller, TRUSTED_FACTS) };
}

describe('stream notifications', () => {
  it('decides resources/updated as a resources/subscribe of its canonical URI, at the time it arrives', () => {
    const { inputs, pass } = check(false);
    expect(pass('notifications/resources/updated', { uri: 'DOCS://a' })).toBe(true);
    expect(pass('notifications/resources/updated', { uri: 'crm://secret/1' })).toBe(false);
    expect(pass('notifications/tools/list_changed', {})).toBe(true);
    expect(inputs.map((i) => [i.action.method, i.action.uri])).toEqual([
      ['resources/subscribe', 'docs://a'],
      ['resources/subscribe', 'crm://secret/1'],
    ]);
    expect(inputs[0]?.context.time).toBe('2026-11-23T22:00:00.000Z');
  });

  it('passes a refused update in a dry run, but never to an anonymous caller', () => {
    expect(check(true).pass('notifications/resources/updated', { uri: 'crm://secret/1' })).toBe(true);
    expect(check(true, ANONYMOUS).pass('notifications/resources/updated', { uri: 'crm://secret/1' })).toBe(
      false,
    );
  });
});
