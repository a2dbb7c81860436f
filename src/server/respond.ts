/**
 * Writing responses: JSON bodies, and the mapping of a stage's deny to the answer the caller gets. A
 * denied body is answered message by message: the denied requests with the policy's error, the other
 * requests of the same batch with a "not forwarded" error, notifications and responses with nothing.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { codeInfo } from '../errors/codes.js';
import { AuthnError, type SidecarError } from '../errors/errors.js';
import { type ErrorResponse, toErrorResponse } from '../errors/http.js';
import { rpcErrorBody } from '../errors/jsonrpc.js';
import type { JsonRpcId } from '../mcp/action.js';
import type { RequestContext } from '../pipeline/context.js';
import { denial } from '../pipeline/stages/decide.js';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Builds the error response for a deny, answering every request id of the parsed body. */
export function errorResponse(
  ctx: RequestContext,
  err: SidecarError,
  resourceMetadataUrl: string,
  scope?: string,
): ErrorResponse {
  const parsed = ctx.parsed;
  let answered = err;
  if (parsed && err.reason === 'policy' && ctx.decisions.length > 0) {
    if (ctx.principal?.authMethod !== 'anonymous') return policyDenialResponse(ctx, err);
    answered = signInFirst(ctx);
  }
  const ids: JsonRpcId[] | null = parsed
    ? parsed.messages.flatMap((m) => (m.kind === 'request' ? [m.id] : []))
    : null;
  return toErrorResponse(answered, {
    ids,
    batch: parsed?.batch ?? false,
    resourceMetadataUrl,
    ...(scope ? { scope } : {}),
  });
}

/**
 * An anonymous caller (`authn.mode: optional`) the policy denies is answered 401 with the challenge rather
 * than a JSON-RPC "Forbidden": a 401 is what makes an MCP client sign in, after which the policy decides
 * again with the caller's identity. The policy's reasons stay in `data`.
 */
function signInFirst(ctx: RequestContext): AuthnError {
  const denied = ctx.decisions.find((d) => !d.decision.allow);
  return new AuthnError('ERR_AUTHN_MISSING', 'Unauthorized: sign in to make this request', {
    data: { reasons: denied?.decision.reasons ?? [], decision_id: denied?.decisionId ?? null },
  });
}

function policyDenialResponse(ctx: RequestContext, first: SidecarError): ErrorResponse {
  const answers = ctx.decisions.map((d) => {
    if (!d.decision.allow) {
      return rpcErrorBody(
        denial(d.decision.reasons, d.decisionId, d.decision.failure !== undefined),
        d.action.id,
      );
    }
    return notForwarded(d.action.id, d.decisionId);
  });
  const status = codeInfo(first.code).status;
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: ctx.parsed?.batch ? answers : answers[0],
  };
}

function notForwarded(id: JsonRpcId, decisionId: string): Record<string, unknown> {
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: codeInfo('ERR_POLICY_DENIED').rpc,
      message: 'Not forwarded: another message in this batch was denied',
      data: {
        code: 'ERR_POLICY_DENIED',
        reasons: ['another message in this batch was denied'],
        decision_id: decisionId,
      },
    },
  };
}
