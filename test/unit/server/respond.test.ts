import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS } from '../../../src/authn/principal.js';
import { AuthnError, PolicyError, RequestError } from '../../../src/errors/errors.js';
import { classify } from '../../../src/mcp/action.js';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';
import { createContext, type MessageDecision, type RequestContext } from '../../../src/pipeline/context.js';
import type { Decision } from '../../../src/policy/decision.js';
import { errorResponse, sendJson } from '../../../src/server/respond.js';

const RM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';

const allow: Decision = {
  allow: true,
  reasons: [],
  obligations: {},
  sensitivity: undefined,
  revision: 'r1',
  evalNs: 1,
};
const deny = (reason: string, failure?: Decision['failure']): Decision => ({
  ...allow,
  allow: false,
  reasons: [reason],
  ...(failure ? { failure } : {}),
});

const request = (id: string | number, method: string, params: unknown = {}): JsonRpcMessage => ({
  kind: 'request',
  id,
  method,
  params,
});
const notification: JsonRpcMessage = { kind: 'notification', method: 'notifications/progress', params: {} };

/** A context as the parse stage leaves it (no body when `messages` is undefined). */
function parsed(batch: boolean, messages?: JsonRpcMessage[]): RequestContext {
  const ctx = createContext({ headers: {} } as IncomingMessage, {
    requestId: 'req-1',
    transport: 'streamable-http',
    clientIp: '127.0.0.1',
    now: new Date(0),
  });
  if (messages) ctx.parsed = { batch, messages };
  return ctx;
}

/** A context as the decide stage leaves it: one decision per request, in body order (allow by default). */
function decided(batch: boolean, messages: JsonRpcMessage[], decisions: Decision[]): RequestContext {
  const ctx = parsed(batch, messages);
  let n = 0;
  for (const [index, m] of messages.entries()) {
    if (m.kind !== 'request') continue;
    const decision = decisions[n] ?? allow;
    ctx.decisions.push({ index, action: classify(m.method, m.id, m.params), decision, decisionId: `d${n}` });
    n++;
  }
  return ctx;
}

const firstDenial = (code: 'ERR_POLICY_DENIED' | 'ERR_POLICY_UNAVAILABLE' = 'ERR_POLICY_DENIED') =>
  new PolicyError(code, 'Forbidden', { data: { reasons: ['x'], decision_id: 'd1' } });

describe('sendJson', () => {
  it('marks every JSON answer it writes (denials among them) not to be stored by any cache', () => {
    const written: { status?: number; headers?: Record<string, unknown>; body?: string } = {};
    const res = {
      headersSent: false,
      writeHead(status: number, headers: Record<string, unknown>) {
        written.status = status;
        written.headers = headers;
      },
      end(body: string) {
        written.body = body;
      },
    } as unknown as ServerResponse;
    sendJson(res, 403, { error: 'x' }, { 'x-extra': '1' });
    expect(written.status).toBe(403);
    expect(written.headers).toMatchObject({ 'cache-control': 'no-store', 'x-extra': '1' });
    expect(written.body).toBe('{"error":"x"}');
  });
});

describe('errorResponse for a policy denial', () => {
  it('answers each request of a batch: the denied one with its reasons, the allowed ones as not forwarded', () => {
    const ctx = decided(
      true,
      [
        request(1, 'tools/list'),
        notification,
        request('b', 'tools/call', { name: 'rm_rf' }),
        request(3, 'ping'),
      ],
      [allow, deny('rm_rf is destructive'), allow],
    );

    const out = errorResponse(ctx, firstDenial(), RM);

    expect(out.status).toBe(200);
    expect(out.headers).toEqual({ 'content-type': 'application/json' });
    expect(out.body).toEqual([
      {
        jsonrpc: '2.0',
        id: 1,
        error: {
          code: -32003,
          message: expect.any(String),
          data: { code: 'ERR_POLICY_DENIED', reasons: [expect.any(String)], decision_id: 'd0' },
        },
      },
      {
        jsonrpc: '2.0',
        id: 'b',
        error: {
          code: -32003,
          message: expect.any(String),
          data: { code: 'ERR_POLICY_DENIED', reasons: ['rm_rf is destructive'], decision_id: 'd1' },
        },
      },
      {
        jsonrpc: '2.0',
        id: 3,
        error: expect.objectContaining({
          data: expect.objectContaining({ code: 'ERR_POLICY_DENIED', decision_id: 'd2' }),
        }),
      },
    ]);
  });

  it('gives allowed siblings a reason different from the policy reason', () => {
    const ctx = decided(
      true,
      [request(1, 'ping'), request(2, 'tools/call', { name: 't' })],
      [allow, deny('nope')],
    );
    const [sibling, denied] = errorResponse(ctx, firstDenial(), RM).body as {
      error: { message: string; data: { reasons: string[] } };
    }[];
    expect(denied?.error.data.reasons).toEqual(['nope']);
    expect(sibling?.error.data.reasons).not.toEqual(['nope']);
    expect(sibling?.error.message).not.toBe(denied?.error.message);
  });

  it('answers every denied request of a batch with its own decision id', () => {
    const ctx = decided(true, [request(1, 'a'), request(2, 'b')], [deny('r1'), deny('r2')]);
    const body = errorResponse(ctx, firstDenial(), RM).body as {
      id: number;
      error: { data: Record<string, unknown> };
    }[];
    expect(body.map((b) => [b.id, b.error.data.reasons, b.error.data.decision_id])).toEqual([
      [1, ['r1'], 'd0'],
      [2, ['r2'], 'd1'],
    ]);
  });

  it('marks a denial caused by a policy failure as ERR_POLICY_UNAVAILABLE', () => {
    const ctx = decided(
      true,
      [request(1, 'a'), request(2, 'b')],
      [deny('no policy loaded', 'no_policy'), allow],
    );
    const body = errorResponse(ctx, firstDenial('ERR_POLICY_UNAVAILABLE'), RM).body as {
      error: { data: { code: string } };
    }[];
    expect(body.map((b) => b.error.data.code)).toEqual(['ERR_POLICY_UNAVAILABLE', 'ERR_POLICY_DENIED']);
  });

  it('answers a single denied request with one object, not an array', () => {
    const ctx = decided(false, [request(5, 'tools/call', { name: 't' })], [deny('nope')]);
    const out = errorResponse(ctx, firstDenial(), RM);
    expect(out.body).toMatchObject({
      jsonrpc: '2.0',
      id: 5,
      error: { code: -32003, data: { reasons: ['nope'] } },
    });
  });
});

describe('errorResponse for an anonymous caller the policy denies (authn.mode: optional)', () => {
  it('answers 401 with the challenge (so an MCP client signs in), keeping the reasons in data', () => {
    const ctx = decided(false, [request(5, 'tools/call', { name: 't' })], [deny('sign in to call t')]);
    ctx.principal = ANONYMOUS;
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    expect(out.status).toBe(401);
    expect(out.headers['www-authenticate']).toBe(`Bearer resource_metadata="${RM}", scope="mcp:tools"`);
    expect(out.body).toMatchObject({
      id: 5,
      error: {
        code: -32001,
        data: { code: 'ERR_AUTHN_MISSING', reasons: ['sign in to call t'], decision_id: 'd0' },
      },
    });
    // What every request was answered with, for the operation metric's error.type.
    expect(ctx.answeredCode).toBe(-32001);
  });

  it('answers a refusal no sign-in cures (arguments too large) as it is, not with the challenge', () => {
    const ctx = decided(false, [request(5, 'tools/call', { name: 't' })], [deny('too many values')]);
    ctx.decisions[0] = { ...(ctx.decisions[0] as MessageDecision), refusal: 'ERR_ARGUMENTS_TOO_LARGE' };
    ctx.principal = ANONYMOUS;
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    expect(out.status).toBe(200);
    expect(out.headers['www-authenticate']).toBeUndefined();
    expect(ctx.answeredCode).toBeUndefined();
  });

  it('answers a signed-in caller the usual way', () => {
    const ctx = decided(false, [request(5, 'tools/call', { name: 't' })], [deny('nope')]);
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'jwt' };
    expect(errorResponse(ctx, firstDenial(), RM).status).toBe(200);
    expect(ctx.answeredCode).toBeUndefined();
  });
});

describe('errorResponse when the policy names required scopes (step-up)', () => {
  const needs = (scopes: string[]): Decision => ({
    ...deny('tool t needs the OAuth scope s'),
    requiredScopes: scopes,
  });

  it("asks a JWT caller lacking one for the configured, its own and the policy's scopes: 403 insufficient_scope", () => {
    const ctx = decided(true, [request(1, 'tools/call', { name: 't' }), request(2, 'ping')], [needs(['s'])]);
    // The scopes the token holds are asked for again (a client may replace its scopes with the
    // challenge's); one that is no scope token (a quote) is left out.
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'jwt', scopes: ['mcp:tools', 'crm:read', 'a"b'] };
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    expect(out.status).toBe(403);
    expect(out.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Forbidden: tool t needs the OAuth scope s", scope="mcp:tools crm:read s", resource_metadata="${RM}"`,
    );
    expect(out.body).toMatchObject([
      { id: 1, error: { code: -32003, message: 'Forbidden: tool t needs the OAuth scope s' } },
      { id: 2, error: { data: { code: 'ERR_AUTHN_INSUFFICIENT_SCOPE', scope: 'mcp:tools crm:read s' } } },
    ]);
  });

  it('asks a caller signed in with an introspected (opaque) token for them too: it is an OAuth token', () => {
    const ctx = decided(false, [request(1, 'tools/call', { name: 't' })], [needs(['s'])]);
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'introspection', scopes: ['mcp:tools'] };
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    expect(out.status).toBe(403);
    expect(out.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Forbidden: tool t needs the OAuth scope s", scope="mcp:tools s", resource_metadata="${RM}"`,
    );
  });

  it('denies the usual way when the token has them all, or the caller used an API key', () => {
    const ctx = decided(false, [request(1, 'tools/call', { name: 't' })], [needs(['s'])]);
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'jwt', scopes: ['s'] };
    expect(errorResponse(ctx, firstDenial(), RM, 'mcp:tools').status).toBe(200);
    ctx.principal = { ...ANONYMOUS, id: 'k-1', authMethod: 'api_key', scopes: [] };
    expect(errorResponse(ctx, firstDenial(), RM, 'mcp:tools').status).toBe(200);
  });

  it('denies a batch the usual way when one of its denials is for another reason than scopes', () => {
    const ctx = decided(
      true,
      [request(1, 'tools/call', { name: 'export' }), request(2, 'tools/call', { name: 't' })],
      [deny('tool export needs clearance restricted'), needs(['s'])],
    );
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'jwt', scopes: ['mcp:tools'] };
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    // A step-up would not help message 1: each message gets its own reasons and decision id instead.
    expect(out.status).toBe(200);
    expect(out.headers['www-authenticate']).toBeUndefined();
    expect(out.body).toMatchObject([
      {
        id: 1,
        error: { message: 'Forbidden: tool export needs clearance restricted', data: { decision_id: 'd0' } },
      },
      { id: 2, error: { message: 'Forbidden: tool t needs the OAuth scope s', data: { decision_id: 'd1' } } },
    ]);
  });

  it('steps up on the enforced denials only: a dry run denial in the batch is neither asked for nor refused', () => {
    const ctx = decided(
      true,
      [request(1, 'tools/call', { name: 'export' }), request(2, 'tools/call', { name: 't' })],
      [deny('tool export needs clearance restricted'), needs(['s'])],
    );
    const first = ctx.decisions[0];
    if (first) ctx.decisions[0] = { ...first, dryRun: true };
    ctx.principal = { ...ANONYMOUS, id: 'u-1', authMethod: 'jwt', scopes: ['mcp:tools'] };
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    expect(out.status).toBe(403);
    expect(out.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Forbidden: tool t needs the OAuth scope s", scope="mcp:tools s", resource_metadata="${RM}"`,
    );
    expect(out.body).toMatchObject([
      { id: 1, error: { data: { code: 'ERR_AUTHN_INSUFFICIENT_SCOPE', decision_id: 'd1' } } },
      { id: 2, error: { message: 'Forbidden: tool t needs the OAuth scope s' } },
    ]);
  });

  it('adds them to the sign-in challenge of an anonymous caller', () => {
    const ctx = decided(false, [request(1, 'tools/call', { name: 't' })], [needs(['s'])]);
    ctx.principal = ANONYMOUS;
    const out = errorResponse(ctx, firstDenial(), RM, 'mcp:tools');
    expect(out.status).toBe(401);
    expect(out.headers['www-authenticate']).toBe(`Bearer resource_metadata="${RM}", scope="mcp:tools s"`);
  });
});

describe('errorResponse for other errors', () => {
  it('answers every request id of the parsed body with the error', () => {
    const ctx = parsed(true, [request(1, 'a'), notification, request(2, 'b')]);
    const out = errorResponse(ctx, new RequestError('ERR_REQUEST_HEADER_MISMATCH', 'x'), RM);
    expect(out.status).toBe(400);
    expect(out.body).toEqual([
      expect.objectContaining({ id: 1, error: expect.objectContaining({ code: -32020 }) }),
      expect.objectContaining({ id: 2, error: expect.objectContaining({ code: -32020 }) }),
    ]);
  });

  it('answers id null when the body was not parsed', () => {
    const ctx = parsed(false);
    const out = errorResponse(ctx, new AuthnError('ERR_AUTHN_MISSING', 'Unauthorized'), RM);
    expect(out.status).toBe(401);
    expect(out.headers['www-authenticate']).toBe(`Bearer resource_metadata="${RM}"`);
    expect(out.body).toMatchObject({
      id: null,
      error: { code: -32001, data: { code: 'ERR_AUTHN_MISSING' } },
    });
  });

  it('falls back to the plain mapping for a policy error without decisions', () => {
    const ctx = parsed(false, [request(9, 'a')]);
    const out = errorResponse(ctx, firstDenial(), RM);
    expect(out.body).toMatchObject({ id: 9, error: { data: { code: 'ERR_POLICY_DENIED', reasons: ['x'] } } });
  });
});
