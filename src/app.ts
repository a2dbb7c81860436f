/**
 * Builds a sidecar from a validated config: creates the components (store, authenticator, policy
 * engine and reloader, upstream client), the stage lists and the two listeners, and starts them in order
 * and stops them in reverse (STYLE R11). `main.ts` and the integration tests both use this.
 *
 * @module
 */
import { createAbuseDetector } from './abuse/detector.js';
import { createAuthenticator } from './authn/authenticator.js';
import { configAdvice } from './config/advice.js';
import { processEnv } from './config/env.js';
import type { Config } from './config/schema.js';
import { openSecret } from './config/secrets.js';
import type { Component, ComponentStatus } from './lifecycle.js';
import { AnnotationDiscovery } from './mcp/annotation-discovery.js';
import { AnnotationCache, MAX_KNOWN_ARGUMENT_NAMES, MAX_KNOWN_TOOLS } from './mcp/annotations.js';
import { TaskOwners } from './mcp/task-owners.js';
import { createObservability } from './observability.js';
import { fanOut } from './pipeline/events.js';
import { createPipelines } from './pipeline/pipeline.js';
import { authenticateStage } from './pipeline/stages/authenticate.js';
import { blocklistStage } from './pipeline/stages/blocklist.js';
import { decideStage } from './pipeline/stages/decide.js';
import { originStage } from './pipeline/stages/origin.js';
import { parseStage, protocolVersionStage } from './pipeline/stages/parse.js';
import { ratelimitStage } from './pipeline/stages/ratelimit.js';
import { BodyBudget, readBodyStage } from './pipeline/stages/read-body.js';
import { recheckStage } from './pipeline/stages/recheck.js';
import { sessionStage } from './pipeline/stages/session.js';
import { PolicyEngine } from './policy/engine.js';
import { createPolicyComponent } from './policy/policy-component.js';
import { createHeaderPolicy } from './proxy/headers.js';
import { Upstream } from './proxy/upstream.js';
import { upstreamReadiness } from './proxy/upstream-readiness.js';
import { createRateLimiter, monotonicNow } from './ratelimit/create-limiter.js';
import { createSecurityCounters } from './report/counters.js';
import { reportRoute } from './report/route.js';
import { onAbuseTrip, securityListener } from './security-listener.js';
import { ActiveReplies } from './server/active-replies.js';
import { createAdminServer } from './server/admin-server.js';
import { limitConnections } from './server/connection-limit.js';
import { createCors } from './server/cors.js';
import { LegacySseRoutes } from './server/legacy-sse.js';
import { createListeners } from './server/listeners.js';
import { OutageLog } from './server/outage-log.js';
import { createPublicServer } from './server/public-server.js';
import { SidecarRuntime } from './server/runtime.js';
import { createSessionTable, type SessionCaps } from './server/session-table.js';
import { countHandshakeFailures, tlsServerOptions, watchTlsFiles } from './server/tls.js';
import { createStore } from './store/create-store.js';
import type { Store } from './store/store.js';
import type { Logger } from './telemetry/logger.js';

export interface SidecarDeps {
  readonly logger: Logger;
  /** Epoch milliseconds, for token and key checks. */
  readonly now?: () => number;
  /** Epoch milliseconds, for the policy's `context.time` fields; defaults to `now`. Tests pin it. */
  readonly policyNow?: () => number;
  readonly env?: NodeJS.ProcessEnv;
  /** Use this store instead of creating one from config (tests share one). */
  readonly store?: Store;
  /** Bounds of the Streamable HTTP session table (tests lower them to see evictions). */
  readonly sessionCaps?: SessionCaps;
}

export interface Sidecar {
  readonly engine: PolicyEngine;
  readonly store: Store;
  /** Base URL of the public listener once started, e.g. `http://127.0.0.1:8080`. */
  readonly publicUrl: string;
  readonly adminUrl: string;
  start(): Promise<void>;
  /**
   * The first step of a shutdown: `/readyz` answers 503 from now on while requests are still served, so the
   * pod leaves the Service's endpoints before `stop()` closes the listener.
   */
  drain(): void;
  stop(): Promise<void>;
  /**
   * Writes the audit records still queued to the log's destination now, for a forced exit that cannot wait
   * for `stop()` (their OTLP copies are handed to the SDK, which has no time left to export them).
   */
  flushAudit(): void;
}

export function createSidecar(config: Config, deps: SidecarDeps): Sidecar {
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const envOpt = deps.env ? { env: deps.env } : {};
  // The audit HMAC key is derived from the pepper once, at start: read it, then stop watching the file.
  const pepper = openSecret(config, 'apiKeyPepper', { ...envOpt });
  const secret = pepper.get();
  pepper.close();
  const obs = createObservability(config, { logger, env: deps.env ?? processEnv(), secret });
  const store =
    deps.store ??
    createStore(config, { logger, ...envOpt, onError: (operation) => obs.metrics.storeError(operation) });
  const authenticator = createAuthenticator(config, { store, logger, now, ...envOpt });
  const engine = new PolicyEngine({
    decisionEntrypoint: config.policy.decisionEntrypoint,
    visibleEntrypoint: config.policy.visibleEntrypoint,
    logger: logger.child({ component: 'policy' }),
    onLoad: (result, bundle) => obs.policyLoaded(result, bundle),
    cache: config.policy.decisionCache,
  });
  obs.metrics.observeDecisionCache(() => engine.status().decisionCache);
  const policyComponent = createPolicyComponent(config, { engine, logger, ...envOpt });
  const upstream = new Upstream(config.upstream);
  const annotations = new AnnotationCache(MAX_KNOWN_TOOLS, MAX_KNOWN_ARGUMENT_NAMES, logger);
  const upstreamPath = new URL(config.upstream.url).pathname;
  const upstreamMcpPath = upstreamPath === '/' ? config.server.mcpPath : upstreamPath;
  const discovery = new AnnotationDiscovery({
    upstream,
    path: upstreamMcpPath,
    cache: annotations,
    logger,
    now,
  });
  const { identityHeaders, apiKeys } = config.authn;
  const headers = createHeaderPolicy({
    strip: identityHeaders.strip,
    apiKeyHeader: apiKeys.header,
    subject: identityHeaders.subject,
    tenant: identityHeaders.tenant,
    roles: identityHeaders.roles,
    trustsProxies: config.server.trustProxyHops > 0,
  });
  const table = createSessionTable(config, {
    upstream,
    path: upstreamMcpPath,
    logger,
    onEvicted: (result) => obs.metrics.sessionEvicted(result),
    store,
    ...(deps.sessionCaps ? { caps: deps.sessionCaps } : {}),
  });
  const { owners: sessions, ender: sessionEnder } = table;
  const tasks = new TaskOwners({
    perCaller: config.server.maxTasksPerCaller,
    maxBindingMs: config.server.maxTaskBindingMs,
    unknown: config.server.unknownTasks,
    now,
  });
  const cors = createCors(config.server.allowedOrigins, apiKeys.enabled ? apiKeys.header : undefined);
  const counters = createSecurityCounters({ store, logger, now });
  const detector = createAbuseDetector({
    store,
    rules: config.abuse.rules,
    logger,
    now,
    pollIntervalMs: config.abuse.pollIntervalMs,
    onTrip: onAbuseTrip(
      logger,
      () => counters,
      (e) => obs.metrics.anomaly(e.rule),
    ),
  });
  const limiter = config.ratelimit.enabled
    ? createRateLimiter({
        store,
        failureMode: config.ratelimit.failureMode,
        logger,
        // In-process buckets need a clock that never steps back (see create-limiter.ts); tests pin `now`.
        now: deps.now ?? (store.kind === 'memory' ? monotonicNow : Date.now),
        localNow: deps.now ?? monotonicNow,
        fastPath: config.ratelimit.fastPath,
      })
    : undefined;
  const events = fanOut([...obs.listeners, securityListener(detector, counters, (t) => annotations.has(t))]);
  let runtime: SidecarRuntime | undefined;
  let legacy: LegacySseRoutes | undefined;
  const pipelines = createPipelines({
    origin: originStage(cors),
    blockIp: blocklistStage(detector, 'ip'),
    blockSubject: blocklistStage(detector, 'subject'),
    session: sessionStage(sessions, (id) => legacy?.session(id), table.inFlight),
    ...(limiter ? { ratelimit: ratelimitStage(limiter, config.ratelimit, (t) => annotations.has(t)) } : {}),
    authenticate: authenticateStage(authenticator, events),
    recheckAuthenticate: authenticateStage(authenticator, events, true),
    readBody: readBodyStage(config.server.maxBodyBytes, new BodyBudget(config.server.maxBufferedBodyBytes)),
    recheck: recheckStage(authenticator, blocklistStage(detector, 'subject'), sessions),
    parse: parseStage(config.server.protocolVersions, config.server.maxBatchMessages, table.inFlight),
    protocolVersion: protocolVersionStage(config.server.protocolVersions),
    decide: decideStage({
      engine,
      annotations,
      facts: (ctx) => ctx.facts ?? (runtime as SidecarRuntime).facts(ctx),
      discover: () => discovery.discover(),
      onDecision: (ctx, d, params) => obs.tracing.decision(ctx, d, params),
      dryRun: config.policy.dryRun,
      tasks,
      maxArgumentValues: config.policy.maxArgumentValues,
    }),
  });
  const replies = new ActiveReplies({
    sendTimeoutMs: config.server.sendTimeoutMs,
    onStall: () => logger.info('reply cut: its client read nothing for server.sendTimeoutMs'),
  });
  runtime = new SidecarRuntime({
    config,
    pipelines,
    engine,
    annotations,
    forwardDeps: {
      upstream,
      headers,
      logger,
      tracing: obs.tracing,
      sessions,
      tasks,
      replies,
      outages: new OutageLog(logger, 'upstream MCP server answering again'),
    },
    tracing: obs.tracing,
    logger,
    now: deps.policyNow ?? now,
    events,
  });
  legacy = new LegacySseRoutes(runtime, config.server.legacySsePath);
  const components: Component[] = [
    obs.components.first,
    store,
    authenticator,
    policyComponent,
    detector,
    counters,
  ];
  if (limiter) components.push(limiter);
  components.push(
    upstreamReadiness({
      origin: upstream.origin,
      intervalMs: config.upstream.readinessCheckMs,
      timeoutMs: config.upstream.connectTimeoutMs,
      logger,
    }),
  );
  components.push(obs.components.last);
  const tls = config.server.tls;
  const pub = createPublicServer(runtime, legacy, logger, cors, tls ? tlsServerOptions(tls) : undefined);
  if (pub.tls) countHandshakeFailures(pub.tls, { logger, meter: obs.telemetry.meter });
  const stopTlsWatch =
    pub.tls && tls ? watchTlsFiles(pub.tls, tls, { logger, meter: obs.telemetry.meter }) : undefined;
  limitConnections(pub.server, config.server.maxConnections, { meter: obs.telemetry.meter, logger, now });
  let draining = false;
  const shutdownStatus = {
    name: 'shutdown',
    status: (): ComponentStatus =>
      draining ? { state: 'not_ready', detail: 'shutting down: draining' } : { state: 'ok' },
  };
  const admin = createAdminServer({
    components: [...components, shutdownStatus],
    metrics: () => obs.telemetry.prometheus(),
    report: {
      route: reportRoute(store, now),
      token: openSecret(config, 'adminReportToken', { logger, ...envOpt }),
    },
  });
  const listeners = createListeners({ config, pub, admin, replies, legacy, upstream, logger, sessionEnder });
  let publicUrl = '';
  let adminUrl = '';

  return {
    engine,
    store,
    get publicUrl() {
      return publicUrl;
    },
    get adminUrl() {
      return adminUrl;
    },
    async start() {
      for (const advice of configAdvice(config, deps.env ?? processEnv())) logger.warn(advice);
      // The admin port first: while the components start (each waits a bounded time for its dependency —
      // Redis, the JWKS, a bundle URL — which adds up when several are down), /healthz answers and /readyz
      // says which one is not ready yet, instead of the probes and the operator finding no port at all.
      adminUrl = await listeners.startAdmin();
      for (const c of components) await c.start();
      const started = await listeners.start();
      ({ publicUrl, adminUrl } = started);
      // Bound where `bound` says (a wildcard serves every interface); the URLs are where this host reaches it.
      logger.info(
        { bound: started.bound, public: publicUrl, admin: adminUrl, upstream: config.upstream.url },
        'mcp-authz listening',
      );
    },
    drain() {
      if (!draining) logger.info('draining: /readyz now answers 503; still serving');
      draining = true;
    },
    flushAudit() {
      void obs.audit.flush();
    },
    async stop() {
      draining = true;
      stopTlsWatch?.();
      await listeners.stop();
      for (const c of [...components].reverse()) await c.stop().catch(() => undefined);
    },
  };
}
