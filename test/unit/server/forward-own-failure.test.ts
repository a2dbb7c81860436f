/**
 * `forward` when its own work before the upstream call fails — the rewrite of the trace context in `_meta`
 * (`withOwnTraceContext`), stood in for by a parsed body that throws when read: an internal error of the
 * sidecar, not an upstream failure. `forward` rejects (the route's fail-safe answers 500 `ERR_INTERNAL`),
 * nothing reaches the upstream, the upstream's metrics record nothing, and the forward CLIENT span, started
 * before the rewrite (whose trace context it is), is ended once, in error, as not sent.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { createHeaderPolicy } from '../../../src/proxy/headers.js';
import { Upstream } from '../../../src/proxy/upstream.js';
import { clientSignal } from '../../../src/server/client-signal.js';
import { forward } from '../../../src/server/forward.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { stopTracing, tracingFixture } from '../../helpers/request-tracing.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await stopTracing();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

describe('forward, its own rewrite of the body failing', () => {
  it('rejects (an internal error), sends nothing upstream, records no upstream call and ends its span unsent', async () => {
    let upstreamGot = 0;
    const upstreamPort = await listen(
      createServer((req, res) => {
        upstreamGot++;
        req.resume();
        res.end('{}');
      }),
    );
    const upstream = new Upstream({
      url: `http://127.0.0.1:${upstreamPort}/mcp`,
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      connections: 1,
    });
    cleanups.push(() => upstream.destroy());
    const { exporter, tel, metrics, tracing } = tracingFixture();
    const samples = vi.spyOn(metrics, 'upstream');
    const errors = vi.spyOn(metrics, 'upstreamError');
    let ctx: RequestContext | undefined;
    let reads = 0;
    let outcome: Promise<number> | undefined;
    const port = await listen(
      createServer((req, res) => {
        ctx = {
          req,
          requestId: 'r1',
          clientIp: '127.0.0.1',
          responseHeaders: {},
          listRequests: new Map(),
          decisions: [],
          // The rewrite reads the parsed body first: a bug there stood in for by a getter throwing once (an
          // answer to the body's requests reads it again).
          parsed: {
            batch: false,
            get messages() {
              if (reads++ === 0) throw new Error('rewrite bug');
              return [];
            },
          },
        } as unknown as RequestContext;
        tracing.start(ctx, '/mcp');
        const signal = clientSignal(res);
        outcome = forward(
          ctx,
          res,
          {
            upstream,
            headers: createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key' }),
            logger: silentLogger(),
            tracing,
          },
          {
            method: 'POST',
            signal,
            path: '/mcp',
            body: Buffer.from(
              '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"traceparent":"x"}}}',
            ),
          },
        );
        outcome
          .finally(() => {
            signal.release();
            res.destroy();
          })
          .catch(() => undefined);
      }),
    );
    await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', body: '{}' }).catch(() => undefined);
    await expect(outcome).rejects.toThrow('rewrite bug');
    expect(upstreamGot).toBe(0);
    expect(samples).not.toHaveBeenCalled();
    expect(errors).not.toHaveBeenCalled();
    await tel.flush();
    const client = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(client).toHaveLength(1);
    expect(client[0]?.attributes).toMatchObject({ 'error.type': 'ERR_INTERNAL' });
    expect(client[0]?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'not sent: the sidecar failed to prepare the request',
    });
    expect(ctx?.forwarded).toBeFalsy();
    expect(ctx?.upstreamError).toBeUndefined();
  });
});
