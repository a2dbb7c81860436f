/**
 * The per-request context the stages share. A stage reads what earlier stages wrote (`principal`,
 * `parsed`, `decisions`) and adds its own; none writes the HTTP response.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Span } from '@opentelemetry/api';
import type { Principal } from '../authn/principal.js';
import type { ErrorCode } from '../errors/codes.js';
import type { SidecarError } from '../errors/errors.js';
import type { Action } from '../mcp/action.js';
import type { InFlightIds, Release } from '../mcp/in-flight-ids.js';
import type { ParsedBody } from '../mcp/jsonrpc.js';
import type { ListMethod } from '../mcp/list-filter.js';
import type { ServerRequestIds } from '../mcp/server-requests.js';
import type { SessionBinding } from '../mcp/session-owners.js';
import type { Decision } from '../policy/decision.js';
import type { RequestFacts } from '../policy/input.js';

export type Transport = 'streamable-http' | 'sse';

/** What a request's reply may do with tasks: create one (bound to the caller) or list them (pruned). */
export type TaskRequestKind = 'create' | 'list';

export interface RateLimitOutcome {
  readonly limit: number;
  readonly remaining: number;
  readonly retryAfterMs: number;
  readonly allowed: boolean;
}

/**
 * Why a call was refused after its decision — the policy allowed it (or `policy.dryRun` let it through) — by
 * what the policy does not look at: its rate limit, its legacy SSE session ending while its stages ran, its
 * connection closing before its turn (HTTP/1.1 pipelining), or its client going away before it reached the
 * upstream. It was never forwarded. The policy's verdict stays
 * as it was (its decision span and `mcp_authz_decisions_total` say it); the refusal is what the audit record,
 * the decision span's refusal attributes and the operation metric say.
 */
export interface LateRefusal {
  /** The refusing error's code: its `reason` is the audit record's `deny_reason`, its JSON-RPC code the answer. */
  readonly code: ErrorCode;
  /** Appended to the audit record's reasons. */
  readonly reason: string;
}

export interface MessageDecision {
  readonly index: number;
  readonly action: Action;
  readonly decision: Decision;
  readonly decisionId: string;
  /** Refused before the policy with this code instead of `ERR_POLICY_DENIED` (a task that is not the caller's). */
  readonly refusal?: 'ERR_TASK_UNKNOWN' | 'ERR_ARGUMENTS_TOO_LARGE';
  /** The policy denied it, but `policy.dryRun` lets it through: forwarded, rate-limited, audited as not enforced. */
  readonly dryRun?: true;
  /** Set by the rate-limit stage for allowed requests. */
  rateLimit?: RateLimitOutcome;
  /**
   * Set on every call not already denied of a body refused after its decision: by the rate-limit stage when a
   * bucket (this request's or another's of the batch) had too few tokens or limits could not be checked, and
   * after the stages by the open-stream cap, a legacy session that ended, a connection closed before its turn, or
   * its client gone before it reached the upstream; by the decide stage on the requests of a batch that holds a denied one (not forwarded).
   */
  lateRefusal?: LateRefusal;
  /** Trace and span id (and sampled flag) of the span that recorded this decision. */
  traceIds?: {
    readonly traceId: string | null;
    readonly spanId: string | null;
    readonly sampled?: boolean | null;
  };
}

/** The request's server span and the context its children hang from. */
export interface RequestTrace {
  readonly span: Span;
  readonly context: Context;
  /**
   * Decision spans not ended yet, with the `performance.now()` their decision was made at: each is ended with
   * that time once its call is forwarded or the request ends, so a call refused after its decision says so.
   */
  openDecisions?: { readonly d: MessageDecision; readonly span: Span; readonly at: number }[];
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly transport: Transport;
  readonly clientIp: string;
  readonly startedAt: bigint;
  readonly now: Date;
  principal?: Principal;
  body?: Buffer;
  parsed?: ParsedBody;
  /** One entry per JSON-RPC request in the body, in body order. */
  decisions: MessageDecision[];
  /** Ids of list requests whose replies must be pruned (key: JSON of the id). */
  listRequests: Map<string, ListMethod>;
  /**
   * Ids of requests whose replies may create a task (bound to the caller) or list tasks (pruned to the
   * caller's); created only when the body has one.
   */
  taskRequests?: Map<string, TaskRequestKind>;
  /** Tasks the upstream created in reply to this body's requests, by request id key (for the audit). */
  createdTasks?: Map<string, string>;
  /** Releases what the request holds until it finishes (its ids in flight in a session), maybe later. */
  release?: Release;
  /** It reuses the id of a request cut off: its `tools/list` replies teach nothing (`mcp/untaught-sessions.ts`). */
  untaught?: boolean;
  facts?: RequestFacts;
  /**
   * Gives back the rate-limit tokens the body took, should it be refused after the rate-limit stage (a
   * `subscriptions/listen` over the open-stream cap, a legacy session that ended, a connection closed before
   * its turn, a client gone before it reached the upstream), or should the upstream never receive it (503 busy,
   * its connection never opened): set by that stage once it took any, and called by `giveBackTokens`.
   */
  refundRateLimit?: () => void;
  /** The error that refused the body after its stages (`refuseLate`): it was never forwarded. */
  refusedLate?: SidecarError;
  /** Headers stages ask to add to the response (e.g. RateLimit-*), allowed or denied. */
  responseHeaders: Record<string, string>;
  /**
   * True once the upstream may have received the request: set as it is handed to the upstream client, back to
   * false when none of it was written (refused busy, its connection never opened, its client gone while it
   * waited for one). A failure once bytes may have gone out (a reset mid-request, a timeout) leaves it true.
   */
  forwarded?: boolean;
  /** The `Mcp-Param-*` headers checked against the body (param-headers.ts): forwarded as spelt. */
  paramHeaders?: ReadonlySet<string>;
  /** The legacy SSE session the session stage let this messages POST use (checked again after the body). */
  legacySession?: { readonly owner: string };
  /** Ids of the server's requests seen on the session's streams (`mcp/server-requests.ts`), when in one. */
  serverRequests?: ServerRequestIds;
  /**
   * The Streamable HTTP session binding its last session check let it use (null: unknown here, forwarded as
   * such); checked again right before it is forwarded (`server/session-gone.ts`). Undefined: no session checked.
   */
  sessionBinding?: SessionBinding | null;
  /** A GET stream of a session: the ids in flight it tells of the answers it carries (`mcp/in-flight-ids.ts`). */
  sessionIds?: Pick<InFlightIds, 'resumed'>;
  /** Its reply was cut before it was all written (the client left, or the upstream's failed mid-way). */
  replyCut?: boolean;
  /** A session POST's: the last SSE event id its reply passed, where a GET resuming its stream starts. */
  resumeAt?: string;
  /** The upstream's own HTTP status, when it answered. */
  upstreamStatus?: number;
  /**
   * Why the sidecar answered in the upstream's place: unreachable, too slow, a reply it could not pass on; or
   * why Node's HTTP server did, closing the connection of a forwarded request (`forward.ts`, `clientGone`).
   */
  upstreamError?: SidecarError;
  /**
   * The JSON-RPC error code every request of the body was answered with when one error answered them all
   * instead of each its own (a 401 asking an anonymous caller to sign in, a 403 step-up, an upstream failure).
   */
  answeredCode?: number;
  /** Bounded route label (mcp, legacy_sse, legacy_messages) for the request metric. */
  route?: string;
  /** Set only while traces are exported. */
  trace?: RequestTrace;
  /** Its end was reported (`SidecarRuntime.finish`): counted, traced, audited; never again (`fail-safe.ts`). */
  finished?: boolean;
}

/** A denial the sidecar answered: not one `policy.dryRun` let through (forwarded, rate-limited, audited). */
export function enforcedDenial(d: MessageDecision): boolean {
  return !d.decision.allow && d.dryRun !== true;
}

export function createContext(
  req: IncomingMessage,
  init: { requestId: string; transport: Transport; clientIp: string; now: Date; route?: string },
): RequestContext {
  return {
    req,
    requestId: init.requestId,
    transport: init.transport,
    clientIp: init.clientIp,
    now: init.now,
    startedAt: process.hrtime.bigint(),
    decisions: [],
    listRequests: new Map(),
    responseHeaders: {},
    route: init.route,
  };
}
