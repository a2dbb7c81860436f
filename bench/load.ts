/**
 * Child-process entry of the proxy benchmark: the load generator (autocannon's programmatic API), kept
 * in its own process (and on its own core) so it never shares an event loop with the servers. The parent
 * sends one `run` message per phase (warm-up or measurement); this process runs it and answers with
 * counts and microsecond-resolution latencies (autocannon's own histogram has 1 ms resolution, too coarse
 * for a 0.3 ms budget, so every response time is recorded here from its `response` event).
 *
 * @module
 */
import autocannon, { type AutocannonResult } from 'autocannon';
import { percentile } from './results.js';

export interface LoadRequest {
  readonly type: 'run';
  readonly url: string;
  /** Headers of every request; `authorization: Bearer <credential>` is added per request. */
  readonly headers: Record<string, string>;
  /** Name of a credential set (sent before with a `credentials` message), used round-robin. */
  readonly credentials: string;
  readonly body: string;
  readonly connections: number;
  readonly durationS: number;
  /** Every response must be exactly this body (a JSON-RPC error in a 200 is a failure, too). */
  readonly expectBody: string;
}

/** Credential sets, sent once: many subjects, so no single one runs into its rate limit. */
export interface CredentialSets {
  readonly type: 'credentials';
  readonly sets: Record<string, string[]>;
}

export interface LoadResult {
  readonly type: 'result';
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly mismatches: number;
  readonly resets: number;
  readonly statusCodes: Record<string, number>;
  /** First mismatching body, for the report. */
  readonly sampleMismatch: string | null;
}

interface Phase {
  readonly latencies: Float64Array;
  readonly count: number;
  readonly seconds: number;
  readonly result: AutocannonResult;
  readonly sampleMismatch: string | null;
}

function phase(r: LoadRequest, durationS: number): Promise<Phase> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let count = 0;
    let sampleMismatch: string | null = null;
    let started = process.hrtime.bigint();
    const creds = credentialSets[r.credentials];
    if (!creds?.length) throw new Error(`no credentials named ${r.credentials}`);
    let next = 0;
    const instance = autocannon(
      {
        url: r.url,
        method: 'POST',
        headers: r.headers,
        body: r.body,
        connections: r.connections,
        pipelining: 1,
        duration: durationS,
        timeout: 10,
        verifyBody: (body) => body === r.expectBody,
        requests: [
          {
            setupRequest: (req) => {
              req.headers.authorization = `Bearer ${creds[next++ % creds.length]}`;
              return req;
            },
          },
        ],
      },
      (err, result) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (err) reject(err);
        else resolve({ latencies: latencies.subarray(0, count), count, seconds, result, sampleMismatch });
      },
    );
    instance.on('start', () => {
      started = process.hrtime.bigint();
    });
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTimeMs;
    });
    instance.on('reqMismatch', (body) => {
      sampleMismatch ??= String(body).slice(0, 300);
    });
  });
}

async function run(r: LoadRequest): Promise<LoadResult> {
  const m = await phase(r, r.durationS);
  const sorted = m.latencies.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const res = m.result;
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(res.statusCodeStats ?? {})) statusCodes[code] = v.count;
  return {
    type: 'result',
    requests: m.count,
    seconds: m.seconds,
    rps: m.count / m.seconds,
    p50Ms: percentile(sorted as unknown as number[], 50),
    p90Ms: percentile(sorted as unknown as number[], 90),
    p99Ms: percentile(sorted as unknown as number[], 99),
    meanMs: sorted.length ? sum / sorted.length : Number.NaN,
    non2xx: res.non2xx,
    errors: res.errors,
    timeouts: res.timeouts,
    mismatches: res.mismatches,
    resets: res.resets,
    statusCodes,
    sampleMismatch: m.sampleMismatch,
  };
}

let credentialSets: Record<string, string[]> = {};

process.on('message', (msg: LoadRequest | CredentialSets | { type: 'stop' } | { type: 'cpu' }) => {
  if (msg.type === 'stop') process.exit(0);
  if (msg.type === 'credentials') {
    credentialSets = msg.sets;
    process.send?.({ type: 'credentials-set' });
    return;
  }
  if (msg.type === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ type: 'cpu', us: u.user + u.system });
    return;
  }
  run(msg).then(
    (result) => process.send?.(result),
    (err: unknown) => process.send?.({ type: 'error', message: (err as Error).message }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready' });
