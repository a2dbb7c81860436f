/**
 * Learns tool annotations straight from the upstream when a call names a tool this replica has not seen
 * listed: the sidecar opens its own short MCP session (initialize → initialized → tools/list, following
 * pagination, then DELETE) and feeds the result to the annotation cache. Single-flight, with a cooldown,
 * so unknown tool names cannot make the sidecar hammer its upstream.
 *
 * @module
 */
import { createParser } from 'eventsource-parser';
import type { Upstream } from '../proxy/upstream.js';
import { replyBytes } from '../proxy/upstream-reply.js';
import type { Logger } from '../telemetry/logger.js';
import { isRecord } from './action.js';
import type { AnnotationCache } from './annotations.js';
import { type ArgumentNames, toolArgumentNames } from './argument-names.js';
import { toolAnnotations } from './list-filter.js';
import { type ParamHeader, toolParamHeaders } from './param-headers.js';

/** The longest discovery reply read (a `tools/list` page): larger ones fail the discovery. */
const MAX_DISCOVERY_REPLY_BYTES = 16 * 1024 * 1024;

export const DISCOVERY_COOLDOWN_MS = 10_000;
/**
 * The cooldown once the upstream said its tools changed since the last discovery began: every tool is unseen
 * again then (decided as destructive), and a 10 s wait would deny a read-only caller's calls that long. A
 * caller who can make the upstream send the notification still gets at most one discovery a second.
 */
export const CHANGED_DISCOVERY_COOLDOWN_MS = 1_000;
export const DISCOVERY_TIMEOUT_MS = 3_000;
const PROTOCOL_VERSION = '2025-06-18';
const MAX_PAGES = 20;

export class AnnotationDiscovery {
  readonly #upstream: Upstream;
  readonly #path: string;
  readonly #cache: AnnotationCache;
  readonly #logger: Logger;
  readonly #now: () => number;
  #inFlight: Promise<void> | undefined;
  #lastRun = Number.NEGATIVE_INFINITY;
  /** The annotation cache's generation when the last discovery began. */
  #lastGeneration = -1;

  constructor(opts: {
    upstream: Upstream;
    path: string;
    cache: AnnotationCache;
    logger: Logger;
    now?: () => number;
  }) {
    this.#upstream = opts.upstream;
    this.#path = opts.path;
    this.#cache = opts.cache;
    this.#logger = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Ensures a fresh discovery has run (or is cooling down: 10 s, or 1 s when the upstream's tools changed since
   * the last one began); never throws.
   */
  discover(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    const generation = this.#cache.generation;
    const cooldown =
      generation === this.#lastGeneration ? DISCOVERY_COOLDOWN_MS : CHANGED_DISCOVERY_COOLDOWN_MS;
    if (this.#now() - this.#lastRun < cooldown) return Promise.resolve();
    this.#lastRun = this.#now();
    this.#lastGeneration = generation;
    this.#inFlight = this.#run()
      .catch((err: unknown) => {
        this.#logger.warn(
          { err: (err as Error).message },
          'tool annotation discovery failed; unseen tools keep MCP defaults',
        );
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  async #run(): Promise<void> {
    const signal = AbortSignal.timeout(DISCOVERY_TIMEOUT_MS);
    // The upstream saying its tools changed while this runs: what it lists may predate the change.
    const generation = this.#cache.generation;
    const init = await this.#call(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: PROTOCOL_VERSION,
          capabilities: {},
          clientInfo: { name: 'mcp-authz', version: '0' },
        },
      },
      undefined,
      signal,
    );
    const session = init.sessionId;
    const version =
      isRecord(init.result) && typeof init.result.protocolVersion === 'string'
        ? init.result.protocolVersion
        : PROTOCOL_VERSION;
    try {
      await this.#call({ jsonrpc: '2.0', method: 'notifications/initialized' }, session, signal, version);
      const tools = new Map<string, Record<string, unknown>>();
      const paramHeaders = new Map<string, readonly ParamHeader[]>();
      const argumentNames = new Map<string, ArgumentNames>();
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const params = cursor ? { cursor } : {};
        const r = await this.#call(
          { jsonrpc: '2.0', id: 2 + page, method: 'tools/list', params },
          session,
          signal,
          version,
        );
        for (const [k, v] of toolAnnotations(r.result)) tools.set(k, v);
        for (const [k, v] of toolParamHeaders(r.result)) paramHeaders.set(k, v);
        for (const [k, v] of toolArgumentNames(r.result)) argumentNames.set(k, v);
        cursor =
          isRecord(r.result) && typeof r.result.nextCursor === 'string' ? r.result.nextCursor : undefined;
        if (!cursor) break;
      }
      if (this.#cache.generation !== generation) {
        this.#logger.info('the upstream changed its tools during tool annotation discovery; nothing learnt');
        return;
      }
      this.#cache.learn(tools);
      this.#cache.learnParamHeaders(paramHeaders);
      this.#cache.learnArgumentNames(argumentNames);
      this.#logger.info({ tools: tools.size }, 'learned tool annotations from the upstream');
    } finally {
      if (session) {
        // Waits for the answer's headers only: its body is drained in the background (so that its connection
        // returns to the pool), and an upstream that never finishes it is cut by the DELETE's own deadline.
        await this.#upstream
          .request({
            method: 'DELETE',
            path: this.#path,
            headers: { 'mcp-session-id': session, 'mcp-protocol-version': version },
            signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
          })
          .then((r) => {
            replyBytes(r, MAX_DISCOVERY_REPLY_BYTES).catch(() => undefined);
          })
          .catch(() => undefined);
      }
    }
  }

  async #call(
    message: Record<string, unknown>,
    session: string | undefined,
    signal: AbortSignal,
    version?: string,
  ): Promise<{ result: unknown; sessionId: string | undefined }> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (session) headers['mcp-session-id'] = session;
    if (version) headers['mcp-protocol-version'] = version;
    const res = await this.#upstream.request({
      method: 'POST',
      path: this.#path,
      headers,
      body: Buffer.from(JSON.stringify(message)),
      signal,
    });
    const text = (await replyBytes(res, MAX_DISCOVERY_REPLY_BYTES)).toString('utf8');
    if (res.status >= 400) throw new Error(`upstream answered ${res.status} to ${String(message.method)}`);
    const sid = res.headers['mcp-session-id'];
    const sessionId = typeof sid === 'string' ? sid : session;
    if (!('id' in message)) return { result: undefined, sessionId };
    const type = String(res.headers['content-type'] ?? '');
    const reply = type.includes('text/event-stream') ? lastSseResponse(text, message.id) : JSON.parse(text);
    if (!isRecord(reply) || !('result' in reply)) throw new Error(`no result for ${String(message.method)}`);
    return { result: reply.result, sessionId };
  }
}

function lastSseResponse(text: string, id: unknown): unknown {
  let found: unknown;
  const parser = createParser({
    onEvent(e) {
      try {
        const m: unknown = JSON.parse(e.data);
        if (isRecord(m) && m.id === id) found = m;
      } catch {
        // not JSON: skip
      }
    },
  });
  parser.feed(text.endsWith('\n\n') ? text : `${text}\n\n`);
  return found;
}
