/**
 * The decide stage's Mcp-Param-* check (param-headers.ts): after the discovery of an unseen tool, before
 * any decision, and not waived by a dry run.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { AnnotationCache } from '../../../../src/mcp/annotations.js';
import { parseBody } from '../../../../src/mcp/jsonrpc.js';
import { toolParamHeaders } from '../../../../src/mcp/param-headers.js';
import { requestSignal, type StageResult } from '../../../../src/pipeline/stage.js';
import { decideStage } from '../../../../src/pipeline/stages/decide.js';
import type { PolicyEngine } from '../../../../src/policy/engine.js';
import { principal } from '../../../helpers/principal.js';
import { contextFor, FACTS, fakeRequest } from '../fake-request.js';

const LIST = {
  tools: [
    {
      name: 'route',
      inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } },
    },
  ],
};

function setup(learnFirst: boolean) {
  let decisions = 0;
  const engine = {
    revision: 'r1',
    decide() {
      decisions++;
      return { allow: false, reasons: ['no'], obligations: {}, revision: 'r1', evalNs: 1 };
    },
  } as unknown as PolicyEngine;
  const annotations = new AnnotationCache();
  const learn = () => {
    annotations.learn(new Map([['route', {}]]));
    annotations.learnParamHeaders(toolParamHeaders(LIST));
  };
  if (learnFirst) learn();
  const stage = decideStage({
    engine,
    annotations,
    facts: () => FACTS,
    dryRun: true,
    discover: async () => learn(),
  });
  const run = async (region: string) => {
    const ctx = contextFor(fakeRequest({ 'mcp-protocol-version': '2026-07-28', 'mcp-param-region': region }));
    ctx.principal = principal();
    ctx.parsed = parseBody(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'route', arguments: { region: 'us' } },
      }),
    );
    const result: StageResult = await stage.run(ctx, requestSignal(new AbortController().signal));
    return { ctx, result };
  };
  return { run, decisions: () => decisions };
}

describe('decide stage: Mcp-Param-* headers', () => {
  it.each([
    ['a tool seen listed', true],
    ['a tool learnt by the discovery before the decision', false],
  ])('refuses a mismatch for %s before any decision, even in a dry run', async (_, learnFirst) => {
    const s = setup(learnFirst);
    const { ctx, result } = await s.run('eu');
    expect(result.kind).toBe('deny');
    expect(result.kind === 'deny' && result.error.code).toBe('ERR_REQUEST_HEADER_MISMATCH');
    expect(s.decisions()).toBe(0);
    expect(ctx.decisions).toEqual([]);
  });

  it('decides a call whose header agrees (here a dry-run denial, so it goes on)', async () => {
    const s = setup(true);
    const { ctx, result } = await s.run('us');
    expect(result.kind).toBe('continue');
    expect(s.decisions()).toBe(1);
    expect(ctx.decisions[0]?.dryRun).toBe(true);
  });
});
