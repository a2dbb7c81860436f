/**
 * Runs `telemetry-floor.ts` (the OpenTelemetry SDK's own cost for what the OTLP sidecar exports per
 * request) after the measured rounds of `npm run bench`, on the proxies' CPU, once on this Node and once
 * on the release the container image runs (`scripts/node-image.mjs`; `BENCH_NODE_IMAGE=0` skips that).
 *
 * @module
 */

import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import type { OtlpSample } from './otlp-sink.js';
import { type Children, next, SERVER_CPU, start, stopChild } from './processes.js';
import type { FloorResult, FloorRun } from './telemetry-floor.js';

export interface TelemetryFloor {
  readonly results: readonly FloorResult[];
  /** Why a Node release was not measured. */
  readonly skipped: readonly string[];
}

/** Replayed requests per block, and measured rounds per Node release. */
const REQUESTS = 20_000;
const ROUNDS = 5;

function imageNode(): string | { skipped: string } {
  if (process.env.BENCH_NODE_IMAGE === '0')
    return { skipped: "the image's Node: skipped (BENCH_NODE_IMAGE=0)" };
  try {
    return execFileSync(process.execPath, ['scripts/node-image.mjs', 'ensure'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  } catch (err) {
    return { skipped: `the image's Node: not measured (${String((err as Error).message).split('\n')[0]})` };
  }
}

export async function measureTelemetryFloor(
  children: Children,
  sink: ChildProcess | null,
  endpoint: string | null,
  env: Record<string, string>,
): Promise<TelemetryFloor | null> {
  if (!sink || !endpoint) return null;
  sink.send({ type: 'sample' });
  const sample = await next<OtlpSample>(sink, 'sample');
  if (!sample.traces || !sample.logs)
    return { results: [], skipped: ['the receiver got no protobuf traces or logs to replay'] };
  const image = imageNode();
  const nodes = [process.execPath, ...(typeof image === 'string' ? [image] : [])];
  const results: FloorResult[] = [];
  const skipped = typeof image === 'string' ? [] : [image.skipped];
  for (const node of nodes) {
    const child = start(children, 'telemetry-floor.ts', [], SERVER_CPU, {}, node);
    try {
      await next(child, 'ready');
      const run: FloorRun = {
        type: 'run',
        endpoint,
        env,
        traces: sample.traces,
        logs: sample.logs,
        requests: REQUESTS,
        rounds: ROUNDS,
      };
      child.send(run);
      results.push(await next<FloorResult>(child, 'floor'));
    } catch (err) {
      skipped.push(`${node}: ${(err as Error).message}`);
    } finally {
      await stopChild(child);
    }
  }
  return { results, skipped };
}
