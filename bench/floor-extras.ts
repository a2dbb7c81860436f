/**
 * The extras of the benchmark's second floor: what the sidecar does for every request besides the checks the
 * request needs, made with the sidecar's own code, for the floor's gate (`minimal-gate.ts`) to add to its
 * checks. With them the floor measures what these features cost however the sidecar is built; what the
 * sidecar costs above that is its structure (stages, events, the request context) and the checks the
 * benchmark's request does not need (origin, blocks, session, revocation, header hygiene).
 *
 * Per request:
 * - a request id and a decision id (`randomUUID`), as the sidecar names every request and decision;
 * - the body parsed by the sidecar's JSON-RPC parser (`parseBody`: UTF-8, depth, strict members, id type)
 *   and classified (`classify`) instead of a bare `JSON.parse`;
 * - the decision looked up by the sidecar's cache key over the whole policy input (`buildDecisionInput`,
 *   `cacheKey`, the fields left out being those the default policy's plan leaves out) instead of by caller
 *   and call;
 * - the call counted for the default abuse rules by the sidecar's own detector, flushing to a memory store;
 * - the sidecar's metric records (`SidecarMetrics`: the request's count and duration, the decision's, the
 *   upstream exchange's) on an OpenTelemetry meter read by a Prometheus exporter, as `/metrics` is.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TOOL_ANNOTATIONS } from '../examples/mcp-server/catalog.js';
import { createAbuseDetector } from '../src/abuse/detector.js';
import type { Principal } from '../src/authn/principal.js';
import { ABUSE_RULES } from '../src/config/defaults.js';
import { type Action, classify } from '../src/mcp/action.js';
import { parseBody } from '../src/mcp/jsonrpc.js';
import { cacheKey, VOLATILE_CONTEXT_FIELDS } from '../src/policy/decision-cache.js';
import { buildDecisionInput } from '../src/policy/input.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { SidecarMetrics } from '../src/telemetry/metrics.js';

/** The context fields the default policy's cache plan leaves out of the key (the sidecar logs the plan). */
const UNUSED: ReadonlySet<string> = new Set([...VOLATILE_CONTEXT_FIELDS, 'minute', 'date']);
const ANNOTATIONS = Object.freeze({ ...TOOL_ANNOTATIONS.echo });

/** One request's extras, begun once its caller is known. */
export interface RequestExtras {
  /** The one JSON-RPC request of the body, or undefined when it is anything else; throws on a bad body. */
  parse(body: Buffer): Action | undefined;
  /** The decision cache key of the call. */
  key(action: Action): string;
  /** After an allowing decision: its id, its metric and the abuse count. */
  decided(action: Action, allow: boolean): void;
  /** Once the upstream answered: the request's and the exchange's metrics. */
  done(status: number): void;
}

export interface FloorExtras {
  begin(principal: Principal, req: IncomingMessage): RequestExtras;
  stop(): Promise<void>;
}

export async function floorExtras(): Promise<FloorExtras> {
  const meterProvider = new MeterProvider({
    readers: [new PrometheusExporter({ preventServerStart: true })],
  });
  const metrics = new SidecarMetrics(meterProvider.getMeter('bench'), {
    anomalyRules: ABUSE_RULES.map((r) => r.name),
  });
  metrics.setToolNames(['echo']);
  const detector = createAbuseDetector({
    store: new MemoryStore(),
    rules: ABUSE_RULES,
    logger: silentLogger(),
  });
  await detector.start();
  return {
    begin(principal, req) {
      const t0 = performance.now();
      const requestId = randomUUID();
      const clientIp = req.socket.remoteAddress ?? '';
      let upstreamAt = 0;
      return {
        parse(body) {
          const parsed = parseBody(body);
          const m = parsed.messages[0];
          if (parsed.batch || m?.kind !== 'request') return undefined;
          return classify(m.method, m.id, m.params);
        },
        key(action) {
          const protocol = req.headers['mcp-protocol-version'];
          const input = buildDecisionInput(principal, action, ANNOTATIONS, {
            now: new Date(),
            clientIp,
            sessionId: null,
            requestId,
            environment: 'production',
            timezone: 'UTC',
            protocolVersion: typeof protocol === 'string' ? protocol : null,
            transport: 'streamable-http',
          });
          return cacheKey(input, UNUSED) ?? requestId;
        },
        decided(action, allow) {
          randomUUID();
          metrics.decision(
            allow ? 'allow' : 'deny',
            action.method,
            action.tool,
            (performance.now() - t0) / 1e3,
          );
          if (allow && action.tool !== undefined) detector.recordCall(principal, action.tool, clientIp);
          upstreamAt = performance.now();
        },
        done(status) {
          const now = performance.now();
          metrics.upstream(status, (now - upstreamAt) / 1e3);
          metrics.request('mcp', status, null, (now - t0) / 1e3, 'POST');
        },
      };
    },
    async stop() {
      await detector.stop();
      await meterProvider.shutdown();
    },
  };
}
