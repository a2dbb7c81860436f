/**
 * `node --import tsx bench/stages.ts`: what each piece of the sidecar's request path costs on its own,
 * in one process with no network, for the same request `npm run bench` sends (role `user` calling
 * `echo`). It complements the proxy benchmark: that one says how much the sidecar adds, this one says
 * which parts it is made of. Each line is the mean and p50 over many calls after a warm-up.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { startDevIssuer } from '../examples/dev-issuer/issuer.js';
import { TOOL_ANNOTATIONS } from '../examples/mcp-server/catalog.js';
import { createApiKey } from '../src/authn/api-keys.js';
import { createAuthenticator } from '../src/authn/authenticator.js';
import type { Principal } from '../src/authn/principal.js';
import { parseConfig } from '../src/config/load.js';
import { classify } from '../src/mcp/action.js';
import { AnnotationCache } from '../src/mcp/annotations.js';
import { parseBody } from '../src/mcp/jsonrpc.js';
import { readBundle } from '../src/policy/bundle.js';
import { PolicyResultSchema } from '../src/policy/decision.js';
import { PolicyEngine } from '../src/policy/engine.js';
import { buildDecisionInput, type RequestFacts } from '../src/policy/input.js';
import { clientResponseHeaders, createHeaderPolicy, upstreamRequestHeaders } from '../src/proxy/headers.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { percentile } from './results.js';

const RESOURCE = 'https://mcp.bench.example/mcp';
const PEPPER = 'bench-pepper-0123456789abcdef0123456789abcdef';
const N = Number(process.env.BENCH_N ?? 20_000);

interface Row {
  readonly what: string;
  readonly meanUs: number;
  readonly p50Us: number;
}
const rows: Row[] = [];

async function time(what: string, fn: () => unknown, n = N): Promise<void> {
  const isAsync = fn() instanceof Promise;
  for (let i = 0; i < Math.min(2_000, n); i++) (isAsync ? await fn() : fn()) as unknown;
  const samples = new Float64Array(n);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    if (isAsync) await fn();
    else fn();
    samples[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const meanUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
  const sorted = [...samples].sort((a, b) => a - b);
  rows.push({ what, meanUs, p50Us: percentile(sorted, 50) });
  console.log(
    `${meanUs.toFixed(2).padStart(8)} mean ${percentile(sorted, 50).toFixed(2).padStart(8)} p50  ${what}`,
  );
}

const issuer = await startDevIssuer({ audience: RESOURCE });
const config = parseConfig(
  {
    policy: { bundle: 'build/policy/bundle', watch: false },
    authn: {
      resource: RESOURCE,
      jwt: { issuers: [issuer.issuer], jwksUri: issuer.jwksUri },
      identityHeaders: { subject: 'x-mcp-authz-subject', tenant: 'x-mcp-authz-tenant' },
    },
    log: { level: 'silent' },
  },
  { AUTHZ_API_KEY_PEPPER: PEPPER },
);
const store = new MemoryStore();
const logger = silentLogger();
const authenticator = createAuthenticator(config, { store, logger, env: { AUTHZ_API_KEY_PEPPER: PEPPER } });
await store.start();
await authenticator.start();
const token = await issuer.mint({ sub: 'user-bench', roles: ['user'], tenant: 'acme', scope: 'mcp:tools' });
const { key } = await createApiKey(store, Buffer.from(PEPPER), {
  subject: 'svc-bench',
  tenant: 'acme',
  roles: ['user'],
  scopes: ['mcp:tools'],
});

const BODY = Buffer.from(
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name: 'echo',
      arguments: {
        text:
          'Please summarise the open support tickets of customer c-1042 for the weekly account review; ' +
          'include priority, owner and the date of the last reply. Keep it short.',
      },
      _meta: { progressToken: 'bench-1' },
    },
  }),
);
const incoming = {
  host: '127.0.0.1:8080',
  connection: 'keep-alive',
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
  authorization: `Bearer ${token}`,
  'content-length': String(BODY.length),
};
const apiKeyHeaders = { ...incoming, authorization: `Bearer ${key}` };

console.log(`µs per call (${N} calls after warm-up)`);
console.log('— request context and cancellation —');
await time('randomUUID()', () => randomUUID());
await time('new AbortController()', () => new AbortController().signal);
await time('AbortSignal add + remove an abort listener', () => {
  const s = new AbortController().signal;
  const f = () => undefined;
  s.addEventListener('abort', f, { once: true });
  s.removeEventListener('abort', f);
});
await time('new AbortController() + abort() (builds a DOMException)', () => new AbortController().abort());
await time('new AbortController() + abort(reason) (no DOMException)', () =>
  new AbortController().abort(null),
);

console.log('— authenticate —');
const signal = new AbortController().signal;
const principal = (await authenticator.authenticate({ headers: incoming }, signal)) as Principal;
await time('authenticate JWT, cached, with signal (stage path)', () =>
  authenticator.authenticate({ headers: incoming }, signal),
);
await time('authenticate JWT, cached, no signal', () => authenticator.authenticate({ headers: incoming }));
await time('authenticate API key, with signal', () =>
  authenticator.authenticate({ headers: apiKeyHeaders }, signal),
);

console.log('— parse —');
await time('parseBody (JSON.parse + zod RequestSchema)', () => parseBody(BODY));
await time('JSON.parse of the body alone', () => JSON.parse(BODY.toString('utf8')));

console.log('— decide —');
const annotations = new AnnotationCache();
annotations.learn(new Map([['echo', { ...TOOL_ANNOTATIONS.echo }]]));
const facts = (): RequestFacts => ({
  now: new Date(),
  clientIp: '127.0.0.1',
  sessionId: null,
  requestId: randomUUID(),
  environment: 'prod',
  timezone: 'UTC',
  protocolVersion: '2025-06-18',
  transport: 'streamable-http',
});
const parsed = parseBody(BODY);
const msg = parsed.messages[0] as { method: string; id: number; params: unknown };
const input = () =>
  buildDecisionInput(principal, classify(msg.method, msg.id, msg.params), annotations.get('echo'), facts());
const engine = new PolicyEngine({
  decisionEntrypoint: config.policy.decisionEntrypoint,
  visibleEntrypoint: config.policy.visibleEntrypoint,
  logger,
});
const bundle = await readBundle('build/policy/bundle');
await engine.load(bundle);
const sample = input();
const d = engine.decide(sample);
if (!d.allow) throw new Error(`the policy denies the benchmark call: ${d.reasons.join('; ')}`);
console.log(
  `  (policy input ${JSON.stringify(sample).length} bytes, of which subject.claims ${JSON.stringify(sample.subject.claims).length}; revision ${bundle.revision})`,
);
await time('classify + facts + buildDecisionInput', input);
await time('engine.decide (JSON → wasm → JSON + zod check)', () => engine.decide(sample));
const policy = await loadPolicy(bundle.wasm);
policy.setData(bundle.data);
const ep = (policy.entrypoints as Record<string, number>)[config.policy.decisionEntrypoint] as number;
const raw = policy.evaluate(sample, ep) as Array<{ result: unknown }>;
await time('opa-wasm evaluate() alone', () => policy.evaluate(sample, ep));
const noClaims = { ...sample, subject: { ...sample.subject, claims: {} } };
await time('opa-wasm evaluate() with subject.claims = {}', () => policy.evaluate(noClaims, ep));
await time('PolicyResultSchema.safeParse(result)', () => PolicyResultSchema.safeParse(raw[0]?.result));

console.log('— forward —');
const headerPolicy = createHeaderPolicy({
  strip: config.authn.identityHeaders.strip,
  apiKeyHeader: config.authn.apiKeys.header,
  subject: 'x-mcp-authz-subject',
  tenant: 'x-mcp-authz-tenant',
});
await time('upstreamRequestHeaders', () =>
  upstreamRequestHeaders(incoming, headerPolicy, principal, {
    clientIp: '127.0.0.1',
    proto: 'http',
    host: incoming.host,
  }),
);
const upstreamReplyHeaders = {
  'content-type': 'application/json',
  'content-length': '75',
  date: new Date().toUTCString(),
  connection: 'keep-alive',
  'keep-alive': 'timeout=65',
};
await time('clientResponseHeaders', () => clientResponseHeaders(upstreamReplyHeaders, false));
const reply = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}');
const sink = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
await time('stream/promises pipeline(body, res) of a 75-byte reply', () =>
  pipeline(Readable.from([reply]), sink()),
);
await time('body.pipe(res) of a 75-byte reply, awaiting finish', () => {
  const w = sink();
  Readable.from([reply]).pipe(w);
  return new Promise((r) => w.once('finish', r));
});

await authenticator.stop();
await issuer.close();
const sum = (names: RegExp) => rows.filter((r) => names.test(r.what)).reduce((a, r) => a + r.meanUs, 0);
console.log(
  `\nrough hot-path sum (mean µs): authenticate JWT ${sum(/^authenticate JWT, cached, with/).toFixed(1)}, ` +
    `parse ${sum(/^parseBody/).toFixed(1)}, decide ${(sum(/^classify/) + sum(/^engine.decide/) + sum(/^randomUUID/)).toFixed(1)}, ` +
    `headers ${sum(/Headers$/).toFixed(1)}`,
);
