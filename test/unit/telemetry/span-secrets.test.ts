/**
 * Secrets in the caller's request never reach a span (src/telemetry/request-tracing.ts): the query of the
 * request URL and of the upstream URL are cut, and a signed URL in a prompt name or a policy's reason is
 * redacted, as in the audit record.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RequestError } from '../../../src/errors/errors.js';
import { classify } from '../../../src/mcp/action.js';
import type { MessageDecision } from '../../../src/pipeline/context.js';
import { decided, stopTracing, tracingFixture } from '../../helpers/request-tracing.js';

const SECRET = 'S3CR3T-SIGNATURE-77';
afterEach(stopTracing);

describe('span attributes', () => {
  it('carry no secret of the request URL, the upstream URL, a prompt name or a reason', async () => {
    const { exporter, tel, tracing, ctx } = tracingFixture({ req: { url: `/mcp?access_token=${SECRET}` } });
    tracing.start(ctx, '/mcp');
    const uri = `https://b.example/r.pdf?X-Amz-Signature=${SECRET}&v=1`;
    const d: MessageDecision = {
      index: 0,
      decisionId: 'd-1',
      action: classify('prompts/get', 1, { name: `summarise ${uri}` }),
      decision: {
        allow: false,
        reasons: [`may not read ${uri}`],
        obligations: {},
        sensitivity: undefined,
        revision: 'r',
        evalNs: 1,
      },
    };
    tracing.decision(ctx, d, {});
    const done = tracing.forward(
      ctx,
      {},
      { method: 'POST', origin: new URL('http://upstream:8080'), path: `/mcp?key=${SECRET}` },
    );
    done(200);
    tracing.end(ctx, 200, undefined);
    await tel.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(['POST', 'POST /mcp', 'prompts/get'].sort());
    expect(JSON.stringify(spans.map((s) => [s.name, s.attributes]))).not.toContain(SECRET);
    const decision = spans.find((s) => s.name === 'prompts/get');
    expect(decision?.attributes['gen_ai.prompt.name']).toBe(`summarise ${uri.replace(SECRET, 'REDACTED')}`);
    expect(decision?.attributes['mcp_authz.reason']).toBe(`may not read ${uri.replace(SECRET, 'REDACTED')}`);
    expect(spans.find((s) => s.name === 'POST')?.attributes['url.full']).toBe('http://upstream:8080/mcp');
    expect(spans.find((s) => s.name === 'POST /mcp')?.attributes['url.path']).toBe('/mcp');
  });

  it("carry a reason's secrets found by value, as the audit record does: a policy's and a late refusal's", async () => {
    const { exporter, tel, tracing, ctx } = tracingFixture();
    tracing.start(ctx, '/mcp');
    const jwt = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.e30.${SECRET}`;
    const pat = `ghp_${'S3cR'.repeat(9)}`;
    const denied = decided('tools/call', { name: 'query', arguments: {} }, false);
    const reasons = [`token ${jwt} is revoked; key ${pat}; dsn app:${SECRET}@db.internal:5432/x`];
    tracing.decision(ctx, { ...denied, decision: { ...denied.decision, reasons } }, {});
    const refused = { ...decided('tools/call', { name: 'echo', arguments: {} }), decisionId: 'd-2' };
    tracing.decision(ctx, refused, {});
    refused.lateRefusal = { code: 'ERR_REQUEST_SESSION', reason: `the session of Bearer ${pat} ended` };
    tracing.end(ctx, 404, new RequestError('ERR_REQUEST_SESSION', 'Not Found: unknown session'));
    await tel.flush();
    const spans = exporter.getFinishedSpans();
    const text = JSON.stringify(spans.map((s) => s.attributes));
    for (const secret of [SECRET, 'S3cR']) expect(text).not.toContain(secret);
    const reason = (tool: string) =>
      spans.find((s) => s.attributes['gen_ai.tool.name'] === tool)?.attributes['mcp_authz.reason'];
    expect(reason('query')).toBe(
      'token [redacted] is revoked; key [redacted]; dsn app:[redacted]@db.internal:5432/x',
    );
    expect(reason('echo')).toBe('the session of Bearer [redacted] ended');
  });
});
