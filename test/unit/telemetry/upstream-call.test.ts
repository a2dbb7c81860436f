/**
 * The upstream call's telemetry (src/telemetry/upstream-call.ts, through `RequestTracing.forward`): a call
 * that never left the sidecar — refused busy, or whose client left while it waited for a pooled connection —
 * records no upstream duration sample and its CLIENT span says `not sent`; a call sent, or whose connection
 * could not be opened, records one as before. Only upstream failures are counted as upstream errors (not a
 * call the sidecar itself failed to prepare: `ERR_INTERNAL`).
 *
 * @module
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ErrorCode } from '../../../src/errors/codes.js';
import { stopTracing, tracingFixture } from '../../helpers/request-tracing.js';

afterEach(stopTracing);

/** Ends one traced upstream call with `status` and `code`: its CLIENT span and the metrics it recorded. */
async function upstreamCall(status: number | null, code?: ErrorCode) {
  const { exporter, tel, metrics, tracing, ctx } = tracingFixture();
  const samples = vi.spyOn(metrics, 'upstream');
  const errors = vi.spyOn(metrics, 'upstreamError');
  tracing.start(ctx, '/mcp');
  const end = tracing.forward(
    ctx,
    {},
    { method: 'POST', origin: new URL('http://127.0.0.1:1'), path: '/mcp' },
  );
  end(status, code);
  await tel.flush();
  const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CLIENT);
  return {
    samples: samples.mock.calls.map(([s]) => s),
    errors: errors.mock.calls.map(([c]) => c),
    attributes: span?.attributes,
    status: span?.status,
  };
}

describe('an upstream call', () => {
  it('never sent, its client gone while it waited for a connection: no sample, no upstream error, its span says so', async () => {
    const call = await upstreamCall(null, 'ERR_CLIENT_CLOSED');
    expect(call.samples).toEqual([]);
    expect(call.errors).toEqual([]);
    expect(call.attributes).toMatchObject({ 'error.type': 'client_closed' });
    expect(call.attributes).not.toHaveProperty('http.response.status_code');
    expect(call.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'not sent: the client went away while it waited for an upstream connection',
    });
  });

  it('never sent, refused busy: no sample, counted as an upstream error, its span says so', async () => {
    const call = await upstreamCall(null, 'ERR_UPSTREAM_BUSY');
    expect(call.samples).toEqual([]);
    expect(call.errors).toEqual(['ERR_UPSTREAM_BUSY']);
    expect(call.attributes).toMatchObject({ 'error.type': 'ERR_UPSTREAM_BUSY' });
    expect(call.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'not sent: every upstream connection busy',
    });
  });

  it('never sent, the sidecar failing to prepare it: no sample, no upstream error, its span says so', async () => {
    const call = await upstreamCall(null, 'ERR_INTERNAL');
    expect(call.samples).toEqual([]);
    expect(call.errors).toEqual([]);
    expect(call.attributes).toMatchObject({ 'error.type': 'ERR_INTERNAL' });
    expect(call.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'not sent: the sidecar failed to prepare the request',
    });
  });

  it('whose connection could not be opened was tried: sampled (no reply), an upstream error', async () => {
    const call = await upstreamCall(null, 'ERR_UPSTREAM_UNAVAILABLE');
    expect(call.samples).toEqual([null]);
    expect(call.errors).toEqual(['ERR_UPSTREAM_UNAVAILABLE']);
    expect(call.attributes).toMatchObject({ 'error.type': 'ERR_UPSTREAM_UNAVAILABLE' });
    expect(call.status?.code).toBe(SpanStatusCode.ERROR);
  });

  it('sent: sampled with its status; one whose client left once it was sent, with none', async () => {
    const answered = await upstreamCall(200);
    expect(answered.samples).toEqual([200]);
    expect(answered.attributes).toMatchObject({ 'http.response.status_code': 200 });
    expect(answered.status?.code).toBe(SpanStatusCode.UNSET);
    const left = await upstreamCall(null);
    expect(left.samples).toEqual([null]);
    expect(left.errors).toEqual([]);
  });
});
