import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../../src/errors/codes.js';
import { AuthnError, RateLimitError, RequestError, SidecarError } from '../../../src/errors/errors.js';
import {
  type ErrorResponseContext,
  MAX_ERROR_DESCRIPTION_CHARS,
  toErrorResponse,
} from '../../../src/errors/http.js';

const RM = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';
const single: ErrorResponseContext = { ids: [7], batch: false, resourceMetadataUrl: RM };
const unknownIds: ErrorResponseContext = { ids: null, batch: false, resourceMetadataUrl: RM };
const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

type RpcBody = { jsonrpc: string; id: unknown; error: { code: number; data: { code: string } } };

describe('toErrorResponse', () => {
  it.each(ALL_CODES)('maps %s to its registered status and JSON-RPC code', (code) => {
    const out = toErrorResponse(new SidecarError(code, 'x'), single);
    const body = out.body as RpcBody;
    expect(out.status).toBe(ERROR_CODES[code].status);
    expect(body).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      error: { code: ERROR_CODES[code].rpc, data: { code } },
    });
    expect(out.headers['content-type']).toBe('application/json');
  });

  it.each([
    ['ERR_REQUEST_PARSE', 400],
    ['ERR_REQUEST_TOO_LARGE', 413],
    ['ERR_REQUEST_CONTENT_TYPE', 415],
    ['ERR_REQUEST_ORIGIN', 403],
    ['ERR_AUTHN_MISSING', 401],
    ['ERR_AUTHN_INVALID_TOKEN', 401],
    ['ERR_AUTHN_INSUFFICIENT_SCOPE', 403],
    ['ERR_AUTHN_INVALID_REQUEST', 400],
    ['ERR_AUTHN_UNAVAILABLE', 503],
    ['ERR_POLICY_DENIED', 200],
    ['ERR_RATELIMIT_EXCEEDED', 429],
    ['ERR_RATELIMIT_BACKEND', 503],
    ['ERR_UPSTREAM_UNAVAILABLE', 502],
    ['ERR_UPSTREAM_TIMEOUT', 504],
    ['ERR_INTERNAL', 500],
  ] as const)('answers %s with HTTP %i', (code, status) => {
    expect(toErrorResponse(new SidecarError(code, 'x'), single).status).toBe(status);
  });

  it('challenges a missing credential with only resource_metadata', () => {
    const out = toErrorResponse(new AuthnError('ERR_AUTHN_MISSING', 'Unauthorized'), single);
    expect(out.headers['www-authenticate']).toBe(`Bearer resource_metadata="${RM}"`);
  });

  it.each(['ERR_AUTHN_INVALID_TOKEN', 'ERR_AUTHN_INVALID_API_KEY', 'ERR_AUTHN_REVOKED'] as const)(
    'challenges %s with error="invalid_token"',
    (code) => {
      const challenge = toErrorResponse(new AuthnError(code, 'token expired'), single).headers[
        'www-authenticate'
      ];
      expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="[^"]*", /);
      expect(challenge).toContain(`resource_metadata="${RM}"`);
    },
  );

  it('names the required scopes in the 401 challenges (MCP 2025-11-25 scope selection)', () => {
    const scoped = { ...single, scope: 'mcp:tools mcp:call' };
    expect(
      toErrorResponse(new AuthnError('ERR_AUTHN_MISSING', 'Unauthorized'), scoped).headers[
        'www-authenticate'
      ],
    ).toBe(`Bearer resource_metadata="${RM}", scope="mcp:tools mcp:call"`);
    expect(
      toErrorResponse(new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'token expired'), scoped).headers[
        'www-authenticate'
      ],
    ).toBe(
      `Bearer error="invalid_token", error_description="token expired", resource_metadata="${RM}", scope="mcp:tools mcp:call"`,
    );
  });

  it('challenges a credential in the query string with error="invalid_request" (RFC 6750 §3.1)', () => {
    const err = new AuthnError('ERR_AUTHN_INVALID_REQUEST', 'credentials must not be sent in the URL query');
    const out = toErrorResponse(err, single);
    expect(out.status).toBe(400);
    expect(out.headers['www-authenticate']).toBe(
      `Bearer error="invalid_request", error_description="credentials must not be sent in the URL query", resource_metadata="${RM}"`,
    );
  });

  it('keeps quotes, backslashes and non-ASCII out of error_description', () => {
    const err = new AuthnError('ERR_AUTHN_INVALID_TOKEN', 'bad "kid" \\ é\r\nInjected: 1');
    const challenge = toErrorResponse(err, single).headers['www-authenticate'] ?? '';
    const description = /error_description="([^"]*)"/.exec(challenge)?.[1] ?? '';
    expect(description).not.toMatch(/["\\\r\n]|[^\x20-\x7e]/);
    expect(challenge.match(/"/g)).toHaveLength(6); // error, error_description, resource_metadata
  });

  it('challenges insufficient scope with error="insufficient_scope" and the needed scope', () => {
    const err = new AuthnError('ERR_AUTHN_INSUFFICIENT_SCOPE', 'Forbidden', {
      data: { scope: 'mcp:tools mcp:admin' },
    });
    const out = toErrorResponse(err, single);
    expect(out.status).toBe(403);
    expect(out.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", error_description="Forbidden", scope="mcp:tools mcp:admin", resource_metadata="${RM}"`,
    );
  });

  it('cuts a long step-up reason in the error_description to a header-sized, printable ASCII text', () => {
    const reason = `Forbidden: tool ${'x'.repeat(500)} needs "s"\r\n`;
    const err = new AuthnError('ERR_AUTHN_INSUFFICIENT_SCOPE', reason, { data: { scope: 's' } });
    const challenge = toErrorResponse(err, single).headers['www-authenticate'] ?? '';
    const description = /error_description="([^"]*)"/.exec(challenge)?.[1] ?? '';
    expect(description).toBe(`Forbidden: tool ${'x'.repeat(500)}`.slice(0, MAX_ERROR_DESCRIPTION_CHARS));
    expect(challenge).toContain(`scope="s", resource_metadata="${RM}"`);
  });

  it('gives every 401 a WWW-Authenticate challenge (MCP authorization spec)', () => {
    for (const code of ALL_CODES.filter((c) => ERROR_CODES[c].status === 401)) {
      expect(toErrorResponse(new SidecarError(code, 'x'), single).headers['www-authenticate'], code).toMatch(
        /^Bearer /,
      );
    }
  });

  it.each(['ERR_AUTHN_UNAVAILABLE', 'ERR_POLICY_DENIED', 'ERR_REQUEST_ORIGIN', 'ERR_INTERNAL'] as const)(
    'sends no challenge for %s',
    (code) => {
      expect(toErrorResponse(new SidecarError(code, 'x'), single).headers).not.toHaveProperty(
        'www-authenticate',
      );
    },
  );

  it("adds the error's own headers", () => {
    const err = new RateLimitError('ERR_RATELIMIT_EXCEEDED', 'Too Many Requests', {
      headers: { 'retry-after': '3', 'ratelimit-remaining': '0' },
    });
    expect(toErrorResponse(err, single).headers).toEqual({
      'content-type': 'application/json',
      'retry-after': '3',
      'ratelimit-remaining': '0',
    });
  });

  it('answers with id null when the ids are unknown or there are none', () => {
    const err = new RequestError('ERR_REQUEST_PARSE', 'Parse error');
    expect(toErrorResponse(err, unknownIds).body).toMatchObject({ id: null, error: { code: -32700 } });
    expect(toErrorResponse(err, { ...unknownIds, ids: [] }).body).toMatchObject({ id: null });
  });

  it('answers every request of a batch, in order, as an array', () => {
    const err = new RequestError('ERR_REQUEST_TOO_LARGE', 'too large');
    const out = toErrorResponse(err, { ids: [1, '1', null], batch: true, resourceMetadataUrl: RM });
    const body = out.body as RpcBody[];
    expect(out.status).toBe(413);
    expect(body.map((b) => b.id)).toEqual([1, '1', null]);
    expect(body.every((b) => b.error.data.code === 'ERR_REQUEST_TOO_LARGE')).toBe(true);
  });

  it('answers a batch without requests with a one-element array', () => {
    const out = toErrorResponse(new SidecarError('ERR_INTERNAL', 'x'), {
      ids: [],
      batch: true,
      resourceMetadataUrl: RM,
    });
    expect(out.body).toEqual([expect.objectContaining({ id: null })]);
  });
});
