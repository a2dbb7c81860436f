/**
 * The extras of the benchmark's second floor: what the sidecar does for every request besides the checks the
 * request needs, made with the sidecar's own code, for the floor's gate (`minimal-gate.ts`) to add to its
 * checks. With them the floor measures what these features cost however the sidecar is built; what the
 * sidecar costs above that is mostly its structure (stages, events, the request context) and the checks the
 * benchmark's request does not need (origin, blocks, session, revocation, header hygiene).
 *
 * Per request, each where the sidecar makes it:
 * - a request id when the request starts, a decision id when its message is decided (`randomUUID`);
 * - the body parsed by the sidecar's JSON-RPC parser (`parseBody`: UTF-8, depth, strict members, id type)
 *   and classified (`classify`) instead of a bare `JSON.parse`;
 * - the decision looked up as the policy engine looks it up: the whole policy input built
 *   (`buildDecisionInput`, with the sidecar's default environment and time zone), its cache key
 *   (`cacheKey`, leaving out the fields the bundle's cache plan leaves out), a `DecisionCache` lookup and the
 *   hit copied out (`cachedDecision`), timed. A miss is decided by the floor's stand-in rule;
 * - once the upstream's reply headers came, the exchange's metric; once the reply is finished, the
 *   decision's metric, the call counted for the default abuse rules by the sidecar's own detector (flushing
 *   to a memory store) and the request's metric (`SidecarMetrics`, on an OpenTelemetry meter and tallied
 *   histograms read by a Prometheus exporter, as `/metrics` is).
 *
 * Left out: the trace context read from a message's `_meta` (the sidecar looks for one on every decision)
 * and everything of a refused request.
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
import {
  ABUSE_RULES,
  ENVIRONMENT,
  POLICY_DECISION_CACHE_ENTRIES,
  POLICY_TIMEZONE,
} from '../src/config/defaults.js';
import { type Action, classify } from '../src/mcp/action.js';
import { parseBody } from '../src/mcp/jsonrpc.js';
import { readBundle } from '../src/policy/bundle.js';
import { cachedDecision, type Decision, denyDecision } from '../src/policy/decision.js';
import { cacheability, cacheKey, DecisionCache, deepFreeze } from '../src/policy/decision-cache.js';
import { buildDecisionInput } from '../src/policy/input.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { SidecarMetrics } from '../src/telemetry/metrics.js';
import { TalliedHistograms } from '../src/telemetry/tallied-histogram.js';

const ANNOTATIONS = Object.freeze({ ...TOOL_ANNOTATIONS.echo });

/** One request's extras, begun once its caller is known. */
export interface RequestExtras {
  /** The one JSON-RPC request of the body, or undefined when it is anything else; throws on a bad body. */
  parse(body: Buffer): Action | undefined;
  /** Decides the call through the sidecar's decision cache; `rule` stands in for the policy on a miss. */
  decide(action: Action, rule: () => boolean): boolean;
  /** Once the upstream's reply headers came: the exchange's metric. */
  answered(status: number): void;
  /** Once the reply is finished: the decision's metric, the abuse count and the request's metric. */
  finished(status: number): void;
}

export interface FloorExtras {
  begin(principal: Principal, req: IncomingMessage): RequestExtras;
  stop(): Promise<void>;
}

/** The extras for the policy bundle at `bundleLocation` (its cache plan names the fields keys leave out). */
export async function floorExtras(bundleLocation: string): Promise<FloorExtras> {
  const bundle = await readBundle(bundleLocation);
  const plan = cacheability(bundle.wasm, bundle.data);
  if (!plan.cacheable) throw new Error(`the bundle's decisions are not cacheable: ${plan.why}`);
  const unused = plan.unused;
  const cache = new DecisionCache<Decision>(POLICY_DECISION_CACHE_ENTRIES);
  const histograms = new TalliedHistograms({ name: 'bench' });
  const meterProvider = new MeterProvider({
    readers: [new PrometheusExporter({ preventServerStart: true, metricProducers: [histograms.producer()] })],
  });
  const metrics = new SidecarMetrics(
    { meter: meterProvider.getMeter('bench'), histograms },
    {
      anomalyRules: ABUSE_RULES.map((r) => r.name),
    },
  );
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
      let decided: { readonly action: Action; readonly decision: Decision } | undefined;
      return {
        parse(body) {
          const parsed = parseBody(body);
          const m = parsed.messages[0];
          if (parsed.batch || m?.kind !== 'request') return undefined;
          return classify(m.method, m.id, m.params);
        },
        decide(action, rule) {
          const protocol = req.headers['mcp-protocol-version'];
          const input = buildDecisionInput(principal, action, ANNOTATIONS, {
            now: new Date(),
            clientIp,
            sessionId: null,
            requestId,
            environment: ENVIRONMENT,
            timezone: POLICY_TIMEZONE,
            protocolVersion: typeof protocol === 'string' ? protocol : null,
            transport: 'streamable-http',
          });
          const e0 = process.hrtime.bigint();
          const key = cacheKey(input, unused);
          const hit = key === undefined ? undefined : cache.get(key);
          let decision: Decision;
          if (hit) decision = cachedDecision(hit, Number(process.hrtime.bigint() - e0));
          else {
            decision = rule()
              ? {
                  allow: true,
                  reasons: [],
                  obligations: {},
                  sensitivity: undefined,
                  revision: 'floor',
                  evalNs: 0,
                }
              : denyDecision('not allowed', undefined, 'floor');
            if (key !== undefined) cache.set(key, deepFreeze({ ...decision }));
          }
          randomUUID();
          decided = { action, decision };
          upstreamAt = performance.now();
          return decision.allow;
        },
        answered(status) {
          metrics.upstream(status, (performance.now() - upstreamAt) / 1e3);
        },
        finished(status) {
          if (decided) {
            const { action, decision } = decided;
            metrics.decision(
              decision.allow ? 'allow' : 'deny',
              action.method,
              action.tool,
              decision.evalNs / 1e9,
            );
            if (decision.allow && action.tool !== undefined)
              detector.recordCall(principal, action.tool, clientIp);
          }
          metrics.request('mcp', status, null, (performance.now() - t0) / 1e3, 'POST');
        },
      };
    },
    async stop() {
      await detector.stop();
      await meterProvider.shutdown();
    },
  };
}
