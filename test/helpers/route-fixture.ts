/**
 * `handleMcp` on a real `node:http` server with the real runtime, in front of a real `node:http` upstream: for
 * route tests that set up a request's context by hand (what the stages would have left in it) and read the
 * route's effects on the sidecar's state. The stage lists are empty; the policy engine is never asked.
 *
 * @module
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config/load.js';
import { AnnotationCache } from '../../src/mcp/annotations.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import type { PolicyEngine } from '../../src/policy/engine.js';
import { createHeaderPolicy } from '../../src/proxy/headers.js';
import { Upstream } from '../../src/proxy/upstream.js';
import { failSafe } from '../../src/server/fail-safe.js';
import type { ForwardDeps } from '../../src/server/forward.js';
import { handleMcp } from '../../src/server/mcp-route.js';
import { type RuntimeDeps, SidecarRuntime } from '../../src/server/runtime.js';
import { silentLogger } from '../../src/telemetry/logger.js';

export interface RouteFixture {
  /** The sidecar's MCP endpoint. */
  readonly url: string;
  /** Requests the upstream got. */
  readonly got: () => number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/**
 * Serves each request by `handleMcp` (its fail-safe on a throw) after `prepare` filled its context in;
 * `answer` is the upstream, `forwardDeps` laid over the real ones.
 */
export async function routeFixture(opts: {
  answer: RequestListener;
  prepare: (ctx: RequestContext, req: IncomingMessage) => void;
  forwardDeps?: Partial<ForwardDeps>;
}): Promise<RouteFixture> {
  let got = 0;
  const up = createServer((req, res) => {
    got++;
    opts.answer(req, res);
  });
  const upstreamPort = await listen(up);
  const upstream = new Upstream({
    url: `http://127.0.0.1:${upstreamPort}/mcp`,
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 5_000,
    connections: 1,
  });
  const deps: RuntimeDeps = {
    config: parseConfig({}, {}),
    pipelines: { post: [], bodiless: [], recheck: [], unserved: [] },
    engine: {} as PolicyEngine,
    annotations: new AnnotationCache(),
    forwardDeps: {
      upstream,
      headers: createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key' }),
      logger: silentLogger(),
      ...opts.forwardDeps,
    },
    logger: silentLogger(),
    now: () => 0,
    events: {
      requestDone: () => undefined,
      decision: () => undefined,
      authFailure: () => undefined,
    } as unknown as RuntimeDeps['events'],
  };
  const rt = new SidecarRuntime(deps);
  const sidecar = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ctx = rt.context(req, 'streamable-http');
    (async () => {
      opts.prepare(ctx, req);
      await handleMcp(rt, ctx, res, '/mcp');
    })().catch((err: unknown) => failSafe(rt, err, res, ctx));
  });
  const port = await listen(sidecar);
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    got: () => got,
    close: async () => {
      await closeServer(sidecar);
      await upstream.destroy();
      await closeServer(up);
    },
  };
}
