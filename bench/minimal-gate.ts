/**
 * The floor of the proxy benchmark: the least an authorizing proxy has to do for the benchmark's request,
 * written inline as a {@link Gate} of the bare proxy (`bare-proxy.ts`). Comparing the sidecar with it says
 * how much of the sidecar's cost is the checks themselves and how much is the way it makes them.
 *
 * For each request, in order:
 * - the bearer token's SHA-256 looked up among tokens verified before (a miss verifies it with jose
 *   against the issuer's JWKS: ES256, issuer, audience), then its expiry checked;
 * - the body parsed as JSON and checked to be a JSON-RPC `tools/call` with a tool name;
 * - the decision looked up by the caller and the call (tool and arguments). On a miss a stand-in rule
 *   decides (role `user` may call `echo`): the measured requests are all hits, as they are in the sidecar's
 *   decision cache;
 * - a token taken from the caller's bucket for the tool (200 tokens, 5 a second, as the default policy
 *   gives role `user`), stated in the `RateLimit` headers;
 * - the request forwarded without the token, with the caller's identity and `X-Forwarded-*` headers the
 *   sidecar sends in the benchmark (set, not the sidecar's hygiene: other identity headers a client sends
 *   are not stripped, and `X-Forwarded-For` is replaced, not appended to).
 *
 * Nothing else: no audit, metrics, traces, abuse counts, origin or session checks, request ids, or
 * error bodies (a refusal is a bare status). With `extras` (`floor-extras.ts`) it is the second floor: the
 * body parsed, the decision keyed, the call counted and measured by the sidecar's own code.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type ClaimPaths, toPrincipal } from '../src/authn/claims.js';
import type { Principal } from '../src/authn/principal.js';
import type { Action } from '../src/mcp/action.js';
import type { Gate, Passed } from './bare-proxy.js';
import type { FloorExtras, RequestExtras } from './floor-extras.js';

export interface GateOptions {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
  /** The sidecar's per-request extras (the second floor). */
  readonly extras?: FloorExtras;
}

interface Caller {
  readonly id: string;
  readonly tenant: string;
  readonly roles: readonly string[];
  readonly expMs: number;
  /** Names the caller in decision keys. */
  readonly serial: number;
  /** The caller as the sidecar's code takes it (the extras). */
  readonly principal: Principal;
}

interface Call {
  readonly method: string;
  readonly params: { readonly name: string; readonly arguments?: unknown };
}

/** The sidecar's default claim paths (`authn.jwt.claims`). */
const CLAIM_PATHS: ClaimPaths = {
  subject: 'sub',
  tenant: 'tenant',
  roles: 'roles',
  scopes: 'scope',
  clearance: 'clearance',
};
const CAPACITY = 200;
const REFILL_PER_SECOND = 5;
const POLICY = `"default";q=${CAPACITY};w=${CAPACITY / REFILL_PER_SECOND}`;

export function minimalGate(o: GateOptions): Gate {
  const jwks = createRemoteJWKSet(new URL(o.jwksUri));
  const callers = new Map<string, Caller>();
  const decisions = new Map<string, boolean>();
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  /** A counter, not the map's size: two requests verifying one token at once must not share a serial. */
  let serials = 0;

  const verify = async (token: string, key: string): Promise<Caller | undefined> => {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: o.issuer,
        audience: o.audience,
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'sub'],
      });
      const roles = Array.isArray(payload.roles) ? payload.roles.map(String) : [];
      const id = String(payload.sub);
      const tenant = typeof payload.tenant === 'string' ? payload.tenant : '';
      const caller: Caller = {
        id,
        tenant,
        roles,
        expMs: (payload.exp as number) * 1000,
        serial: serials++,
        principal: toPrincipal(payload, CLAIM_PATHS),
      };
      callers.set(key, caller);
      return caller;
    } catch {
      return undefined;
    }
  };

  const decide = (caller: Caller, req: IncomingMessage, body: Buffer): Passed | number => {
    const nowMs = Date.now();
    if (caller.expMs <= nowMs) return 401;
    const ex = o.extras?.begin(caller.principal, req);
    const call = ex ? extraCall(ex, body) : bareCall(body);
    if (call === undefined) return 400;
    const tool = call.tool;
    const rule = () => caller.roles.includes('user') && tool === 'echo';
    let allow: boolean;
    if (ex && call.action) allow = ex.decide(call.action, rule);
    else {
      const key = caller.serial + JSON.stringify([call.method, tool, call.args]);
      const known = decisions.get(key);
      allow = known ?? rule();
      if (known === undefined) decisions.set(key, allow);
    }
    if (!allow) return 403;
    const bucketKey = `${caller.tenant}/${caller.id}/${tool}`;
    const b = buckets.get(bucketKey);
    const tokens = b
      ? Math.min(CAPACITY, b.tokens + ((nowMs - b.atMs) * REFILL_PER_SECOND) / 1000)
      : CAPACITY;
    if (tokens < 1) return 429;
    buckets.set(bucketKey, { tokens: tokens - 1, atMs: nowMs });
    const peer = req.socket.remoteAddress ?? '';
    return {
      upstream: {
        'accept-encoding': 'identity',
        'x-forwarded-for': peer,
        'x-forwarded-proto': 'http',
        'x-forwarded-host': req.headers.host ?? '',
        'x-real-ip': peer,
        'x-mcp-authz-subject': caller.id,
        'x-mcp-authz-tenant': caller.tenant,
      },
      reply: {
        'ratelimit-policy': POLICY,
        ratelimit: `"default";r=${Math.floor(tokens - 1)};t=${Math.ceil((CAPACITY - tokens + 1) / REFILL_PER_SECOND)}`,
      },
      answered: ex?.answered,
      finished: ex?.finished,
    };
  };

  return (req, body) => {
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) return 401;
    const token = auth.slice(7);
    const key = createHash('sha256').update(token).digest('base64url');
    const caller = callers.get(key);
    if (caller) return decide(caller, req, body);
    return verify(token, key).then((c) => (c ? decide(c, req, body) : 401));
  };
}

/** The call the gate decides on: method, tool and arguments (and, with the extras, the sidecar's Action). */
interface GateCall {
  readonly method: string;
  readonly tool: string;
  readonly args: unknown;
  readonly action?: Action;
}

function bareCall(body: Buffer): GateCall | undefined {
  let call: unknown;
  try {
    call = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isToolCall(call)) return undefined;
  return { method: call.method, tool: call.params.name, args: call.params.arguments ?? null };
}

function extraCall(ex: RequestExtras, body: Buffer): GateCall | undefined {
  let action: Action | undefined;
  try {
    action = ex.parse(body);
  } catch {
    return undefined;
  }
  if (action?.method !== 'tools/call' || action.tool === undefined) return undefined;
  return { method: action.method, tool: action.tool, args: action.arguments, action };
}

function isToolCall(v: unknown): v is Call {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as { jsonrpc?: unknown; method?: unknown; id?: unknown; params?: { name?: unknown } };
  return (
    m.jsonrpc === '2.0' &&
    m.method === 'tools/call' &&
    (typeof m.id === 'number' || typeof m.id === 'string') &&
    typeof m.params === 'object' &&
    m.params !== null &&
    typeof m.params.name === 'string'
  );
}
