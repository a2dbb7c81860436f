/**
 * `SidecarRuntime.clientIp` behind trusted proxies (`server.trustProxyHops`): the address the outermost
 * trusted proxy wrote, counted from the right of `X-Forwarded-For`. The entries to its left are the
 * client's own to write: trusting them would let any caller pick the address its rate limits, blocks and
 * policy rules see.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { NO_EVENTS } from '../../../src/pipeline/events.js';
import type { PolicyEngine } from '../../../src/policy/engine.js';
import { type RuntimeDeps, SidecarRuntime } from '../../../src/server/runtime.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

function runtime(trustProxyHops: number): SidecarRuntime {
  const deps: RuntimeDeps = {
    config: parseConfig({ server: { trustProxyHops } }, {}),
    pipelines: { post: [], bodiless: [], recheck: [], unserved: [] },
    engine: {} as PolicyEngine,
    annotations: new AnnotationCache(),
    forwardDeps: {} as RuntimeDeps['forwardDeps'],
    logger: silentLogger(),
    now: () => 0,
    events: NO_EVENTS,
  };
  return new SidecarRuntime(deps);
}

const request = (xff: string) =>
  ({
    headers: { 'x-forwarded-for': xff },
    socket: { remoteAddress: '10.0.0.9' },
  }) as unknown as IncomingMessage;

describe('SidecarRuntime.clientIp', () => {
  it('takes the entry the outermost trusted proxy wrote, not the one the client put first', () => {
    expect(runtime(1).clientIp(request('6.6.6.6, 203.0.113.7'))).toBe('203.0.113.7');
    expect(runtime(2).clientIp(request('6.6.6.6, 203.0.113.7, 10.0.0.1'))).toBe('203.0.113.7');
  });

  it('is the peer address with no trusted proxy, whatever X-Forwarded-For says', () => {
    expect(runtime(0).clientIp(request('6.6.6.6'))).toBe('10.0.0.9');
  });
});
