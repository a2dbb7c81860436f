/**
 * `SidecarRuntime.visibleFor`: the `visible` input carries the time its facts were taken, or — for a stream that stays
 * open (`live`) — the clock at each check, so time rules do not go stale on a long stream. And
 * `SidecarRuntime.facts` on the legacy messages endpoint: the session from its query, the protocol version
 * from the parsed body.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { createContext } from '../../../src/pipeline/context.js';
import { NO_EVENTS } from '../../../src/pipeline/events.js';
import type { PolicyEngine } from '../../../src/policy/engine.js';
import type { PolicyInput } from '../../../src/policy/input.js';
import { type RuntimeDeps, SidecarRuntime } from '../../../src/server/runtime.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { principal } from '../../helpers/principal.js';
import { contextFor, fakeRequest } from '../pipeline/fake-request.js';

function runtime(clock: { t: number }, seen: PolicyInput[]): SidecarRuntime {
  const engine = { visible: (input: PolicyInput) => seen.push(input) > 0 } as unknown as PolicyEngine;
  const deps: RuntimeDeps = {
    config: parseConfig({}, {}),
    pipelines: { post: [], bodiless: [], recheck: [], unserved: [] },
    engine,
    annotations: new AnnotationCache(),
    forwardDeps: {} as RuntimeDeps['forwardDeps'],
    logger: silentLogger(),
    now: () => clock.t,
    events: NO_EVENTS,
  };
  return new SidecarRuntime(deps);
}

const item = { kind: 'tool' as const, name: 'echo', annotations: undefined };

describe('SidecarRuntime.visibleFor', () => {
  it('uses the time its check was made (not when the headers came), or the clock at each check for a live stream', () => {
    const clock = { t: Date.parse('2026-11-23T10:00:00Z') };
    const seen: PolicyInput[] = [];
    const rt = runtime(clock, seen);
    const ctx = contextFor(fakeRequest({})); // the headers' time: 1970-01-01
    const once = rt.visibleFor(ctx, principal());
    const live = rt.visibleFor(ctx, principal(), true);
    once(item);
    live(item);
    clock.t = Date.parse('2026-11-23T22:30:00Z');
    once(item);
    live(item);
    expect(seen.map((i) => i.context.hour)).toEqual([10, 10, 10, 22]);
  });
});

describe('SidecarRuntime.facts', () => {
  it('on the legacy messages endpoint: the session from the query (not a header), the version from initialize', () => {
    const rt = runtime({ t: 0 }, []);
    const req = Object.assign(fakeRequest({ 'mcp-session-id': 'forged' }), {
      url: '/messages?sessionId=s-legacy',
    });
    const ctx = createContext(req, {
      requestId: 'r',
      transport: 'sse',
      clientIp: '127.0.0.1',
      now: new Date(0),
      route: 'legacy_messages',
    });
    ctx.parsed = {
      batch: false,
      messages: [{ kind: 'request', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26' } }],
    };
    expect(rt.facts(ctx)).toMatchObject({ sessionId: 's-legacy', protocolVersion: '2025-03-26' });
    ctx.parsed = { batch: false, messages: [{ kind: 'request', id: 2, method: 'ping', params: {} }] };
    expect(rt.facts(ctx)).toMatchObject({ sessionId: 's-legacy', protocolVersion: '2024-11-05' });
  });
});
