/**
 * Builds the policy input (DESIGN.md "The policy contract") from the principal, the action and the
 * request context. Time-derived fields (`hour`, `weekday`, …) are computed here in the configured time
 * zone, because the wasm runtime has no `time.*` builtins.
 *
 * @module
 */
import type { Principal } from '../authn/principal.js';
import type { Action, ResourceKind } from '../mcp/action.js';

export interface RequestFacts {
  readonly now: Date;
  readonly clientIp: string;
  readonly sessionId: string | null;
  readonly requestId: string;
  readonly environment: string;
  readonly timezone: string;
  readonly protocolVersion?: string | null;
  readonly transport?: 'streamable-http' | 'sse';
}

export type Annotations = Readonly<Record<string, unknown>>;

/** The annotations of a resource that has none (a prompt, a resource URI): one object for every input. */
const NONE: Annotations = Object.freeze({});

export interface PolicyInput {
  readonly subject: ReturnType<typeof subjectOf>;
  readonly action: Record<string, unknown>;
  readonly resource: { kind: ResourceKind; name: string; annotations: Annotations };
  readonly context: ReturnType<typeof contextOf>;
}

export function buildDecisionInput(
  principal: Principal,
  action: Action,
  annotations: Annotations | undefined,
  facts: RequestFacts,
): PolicyInput {
  const a: Record<string, unknown> = { method: action.method };
  if (action.tool !== undefined) a.tool = action.tool;
  else {
    if (action.prompt !== undefined) a.prompt = action.prompt;
    if (action.uri !== undefined) a.uri = action.uri;
    // completion/complete: the argument being completed (`arguments` are then the context's).
    if (action.argument !== undefined) a.argument = action.argument;
  }
  if (action.arguments !== undefined) a.arguments = action.arguments;
  return {
    subject: subjectOf(principal),
    action: a,
    resource: { kind: action.resource.kind, name: action.resource.name, annotations: annotations ?? NONE },
    context: contextOf(facts),
  };
}

/** Input for the `visible` entrypoint: one item of a list reply. */
export function buildVisibleInput(
  principal: Principal,
  listMethod: string,
  kind: ResourceKind,
  name: string,
  annotations: Annotations | undefined,
  facts: RequestFacts,
): PolicyInput {
  return {
    subject: subjectOf(principal),
    action: { method: listMethod },
    resource: { kind, name, annotations: annotations ?? NONE },
    context: contextOf(facts),
  };
}

/** One subject object per principal: the token and key caches hand out the same principal each time. */
const subjects = new WeakMap<Principal, Subject>();

function subjectOf(p: Principal): Subject {
  let s = subjects.get(p);
  if (s === undefined) {
    s = subjectFields(p);
    subjects.set(p, s);
  }
  return s;
}

type Subject = Readonly<ReturnType<typeof subjectFields>>;

function subjectFields(p: Principal) {
  return {
    id: p.id,
    tenant: p.tenant,
    roles: p.roles,
    scopes: p.scopes,
    clearance: p.clearance,
    auth_method: p.authMethod,
    key_id: p.keyId ?? null,
    claims: p.claims,
  };
}

function contextOf(f: RequestFacts) {
  const t = clockFields(f.now, f.timezone);
  return {
    time: isoTime(f.now),
    hour: t.hour,
    minute: t.minute,
    weekday: t.weekday,
    date: t.date,
    timezone: f.timezone,
    client_ip: f.clientIp,
    session_id: f.sessionId,
    request_id: f.requestId,
    environment: f.environment,
    protocol_version: f.protocolVersion ?? null,
    transport: f.transport ?? 'streamable-http',
  };
}

/** The last time written out, by its epoch ms: requests decided in the same millisecond share the string. */
let lastIso = { ms: Number.NaN, text: '' };

/** `now.toISOString()`, written once per millisecond (it formats with `snprintf`; a request costs it ~0.4 µs). */
function isoTime(now: Date): string {
  const ms = now.getTime();
  if (ms !== lastIso.ms) lastIso = { ms, text: now.toISOString() };
  return lastIso.text;
}

interface ClockFields {
  readonly hour: number;
  readonly minute: number;
  readonly weekday: number;
  readonly date: string;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();
let cached: { key: string; minute: number; fields: ClockFields } | undefined;

/** Hour, minute, weekday (0 = Sunday) and ISO date in `timezone`; cached per minute. */
export function clockFields(now: Date, timezone: string): ClockFields {
  const ms = now.getTime();
  const minute = Math.floor(ms / 60_000);
  if (cached && cached.minute === minute && cached.key === timezone) return cached.fields;
  const fields = timezone === 'UTC' ? utcFields(now) : zonedFields(now, timezone);
  cached = { key: timezone, minute, fields };
  return fields;
}

function utcFields(d: Date): ClockFields {
  return {
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    weekday: d.getUTCDay(),
    date: d.toISOString().slice(0, 10),
  };
}

function zonedFields(d: Date, timezone: string): ClockFields {
  let fmt = formatters.get(timezone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
    formatters.set(timezone, fmt);
  }
  const parts: Record<string, string> = {};
  for (const p of fmt.formatToParts(d)) parts[p.type] = p.value;
  return {
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday ?? ''] ?? 0,
    date: `${parts.year}-${parts.month}-${parts.day}`,
  };
}
