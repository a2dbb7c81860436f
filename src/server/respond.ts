/**
 * Writing responses: JSON bodies, and the mapping of a stage's deny to the answer the caller gets. A
 * denied body is answered message by message: the denied requests with the policy's error, the other
 * requests of the same batch with a "not forwarded" error, notifications and responses with nothing.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { challengeScopes } from '../authn/scope-challenge.js';
import { codeInfo } from '../errors/codes.js';
import { AuthnError, type SidecarError } from '../errors/errors.js';
import { type ErrorResponse, toErrorResponse } from '../errors/http.js';
import { rpcErrorBody } from '../errors/jsonrpc.js';
import type { JsonRpcId } from '../mcp/action.js';
import { enforcedDenial, type RequestContext } from '../pipeline/context.js';
import { denial, HELD_BACK_REASON, replyReasons } from '../pipeline/stages/decide.js';

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
  let hint = scope;
  if (parsed && err.reason === 'policy' && ctx.decisions.length > 0) {
    const baseline = scope ? scope.split(' ') : [];
    if (asksToSignIn(ctx)) {
      answered = signInFirst(ctx);
      hint = [...new Set([...baseline, ...deniedScopes(ctx)])].join(' ');
    } else {
      const needed = stepUpScopes(ctx, baseline);
      if (!needed) return policyDenialResponse(ctx, err);
      answered = askForScopes(ctx, needed);
    }
  }
  if (answered !== err) ctx.answeredCode = codeInfo(answered.code).rpc;
  const ids: JsonRpcId[] | null = parsed
    ? parsed.messages.flatMap((m) => (m.kind === 'request' ? [m.id] : []))
    : null;
  return toErrorResponse(answered, {
    ids,
    batch: parsed?.batch ?? false,
    resourceMetadataUrl,
    ...(hint ? { scope: hint } : {}),
  });
}

/** The scopes the policy named on the body's denied messages (`required_scopes`). */
function deniedScopes(ctx: RequestContext): string[] {
  return ctx.decisions.flatMap((d) => (enforcedDenial(d) ? (d.decision.requiredScopes ?? []) : []));
}

/**
 * Step-up authorization (MCP 2025-11-25, "Scope Challenge Handling"): when the policy denied a message of
 * a caller signed in with an access token (a JWT or an introspected opaque one) and named scopes the call
 * needs (`required_scopes`) that the token lacks, the scopes to ask for: the configured required scopes, those the token already holds (a client that
 * replaces its scopes with the challenge's, as the MCP TypeScript SDK does, keeps them) and the policy's.
 * Undefined otherwise (an API key cannot be stepped up; a token holding every named scope was denied for
 * another reason).
 */
function stepUpScopes(ctx: RequestContext, baseline: readonly string[]): string[] | undefined {
  const p = ctx.principal;
  // An OAuth access token, JWT or opaque (introspected), can be stepped up; an API key cannot.
  if (p?.authMethod !== 'jwt' && p?.authMethod !== 'introspection') return undefined;
  // Every enforced denial of the body must be one the scopes cure: a batch with a message denied for another
  // reason would be denied again after the step-up (the policy names scopes only then, message by message).
  const denied = ctx.decisions.filter(enforcedDenial);
  const lacking =
    denied.length > 0 &&
    denied.every((d) => d.decision.requiredScopes?.some((s) => !p.scopes.includes(s)) === true);
  if (!lacking) return undefined;
  return challengeScopes(baseline, p.scopes, deniedScopes(ctx));
}

/**
 * Whether a denial is answered with the sign-in challenge: the caller is anonymous, and no message was refused
 * for what no sign-in cures (arguments too large, a task that is not there), which is answered as it is.
 */
export function asksToSignIn(ctx: RequestContext): boolean {
  return (
    ctx.principal?.authMethod === 'anonymous' &&
    !ctx.decisions.some((d) => enforcedDenial(d) && d.refusal !== undefined)
  );
}

/** The 403 `insufficient_scope` answer of a step-up: the policy's reasons stay in `data`. */
function askForScopes(ctx: RequestContext, scopes: readonly string[]): AuthnError {
  const denied = ctx.decisions.find(enforcedDenial);
  const reasons = replyReasons(denied?.decision.reasons ?? []);
  const reason = reasons[0] ?? 'this call needs more scopes';
  return new AuthnError('ERR_AUTHN_INSUFFICIENT_SCOPE', `Forbidden: ${reason}`, {
    data: {
      scope: scopes.join(' '),
      reasons,
      decision_id: denied?.decisionId ?? null,
    },
  });
}

/**
 * An anonymous caller (`authn.mode: optional`) the policy denies is answered 401 with the challenge rather
 * than a JSON-RPC "Forbidden": a 401 is what makes an MCP client sign in, after which the policy decides
 * again with the caller's identity. The policy's reasons stay in `data`.
 */
function signInFirst(ctx: RequestContext): AuthnError {
  const denied = ctx.decisions.find(enforcedDenial);
  return new AuthnError('ERR_AUTHN_MISSING', 'Unauthorized: sign in to make this request', {
    data: { reasons: replyReasons(denied?.decision.reasons ?? []), decision_id: denied?.decisionId ?? null },
  });
}

function policyDenialResponse(ctx: RequestContext, first: SidecarError): ErrorResponse {
  // A dry run's denial was no refusal: its message is only held back with the batch, as an allowed one is.
  const answers = ctx.decisions.map((d) => {
    if (enforcedDenial(d)) {
      return rpcErrorBody(
        denial(d.decision.reasons, d.decisionId, d.decision.failure !== undefined, d.refusal),
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
        reasons: [HELD_BACK_REASON],
        decision_id: decisionId,
      },
    },
  };
}
