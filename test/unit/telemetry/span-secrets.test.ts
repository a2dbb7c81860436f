/**
 * Secrets in the caller's request never reach a span (src/telemetry/request-tracing.ts): the query of the
 * request URL and of the upstream URL are cut, and a signed URL in a prompt name or a policy's reason is
 * redacted, as in the audit record.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../../src/mcp/action.js';
import type { MessageDecision } from '../../../src/pipeline/context.js';
import { stopTracing, tracingFixture } from '../../helpers/request-tracing.js';

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
});
