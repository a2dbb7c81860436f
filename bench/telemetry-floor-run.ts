/**
 * Runs `telemetry-floor.ts` (the OpenTelemetry SDK's own cost for what the OTLP sidecar exports per
 * request) inside `npm run bench`'s rounds: one block right after each measured round of the telemetry-off
 * sidecar at c=32, so each block is paired with the round measured at the same speed of this drifting VM
 * (as the throughput ratios are). On the proxies' CPU, once on this Node and once on the release the
 * container image runs (`scripts/node-image.mjs`; `BENCH_NODE_IMAGE=0` skips that).
 *
 * @module
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import type { OtlpSample, OtlpSinkReady } from './otlp-sink.js';
import { type Children, cpu, LOAD_CPU, next, SERVER_CPU, start, stopChild } from './processes.js';
import type { FloorBlock, FloorReady, FloorSetup } from './telemetry-floor.js';

export interface FloorOnNode extends Omit<FloorReady, 'type'> {
  /** CPU µs per request of each block, one per measured round. */
  readonly rounds: readonly number[];
}

export interface TelemetryFloor {
  readonly results: readonly FloorOnNode[];
  /** Why a Node release was not measured. */
  readonly skipped: readonly string[];
}

/** Replayed requests per block (about a second of CPU). */
const REQUESTS = 20_000;

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

export interface FloorRunner {
  /** One block on each Node (after a round of the telemetry-off sidecar at c=32). */
  block(): Promise<void>;
  /** CPU µs the floor's processes have used (the benchmark's own, not other load on the machine). */
  cpuUs(): Promise<number>;
  result(): TelemetryFloor;
  stop(): Promise<void>;
}

/**
 * Starts the floor's processes at the first block, set up with the receiver's sample of what the OTLP
 * sidecar exported (the preflight and the c=1 rounds have filled it by then); null without a receiver.
 * The floor exports to a receiver of its own (on the load generator's CPU, as the sidecar's), so the
 * sidecar's receiver counts only what the sidecar sent.
 */
export function floorRunner(
  children: Children,
  sink: ChildProcess | null,
  env: Record<string, string>,
): FloorRunner | null {
  if (!sink) return null;
  const skipped: string[] = [];
  const live: { child: ChildProcess; ready: FloorReady; rounds: number[] }[] = [];
  let floorSink: ChildProcess | undefined;
  /** CPU µs of floor processes stopped after a failure. */
  let stoppedCpuUs = 0;
  let started: Promise<void> | undefined;
  const startAll = async (): Promise<void> => {
    sink.send({ type: 'sample' });
    const sample = await next<OtlpSample>(sink, 'sample');
    if (!sample.traces || !sample.logs) {
      skipped.push('the receiver had no protobuf traces or logs to replay');
      return;
    }
    floorSink = start(children, 'otlp-sink.ts', [], LOAD_CPU);
    const { endpoint } = await next<OtlpSinkReady>(floorSink, 'ready');
    const image = imageNode();
    if (typeof image !== 'string') skipped.push(image.skipped);
    for (const node of [process.execPath, ...(typeof image === 'string' ? [image] : [])]) {
      const child = start(children, 'telemetry-floor.ts', [], SERVER_CPU, {}, node);
      try {
        await next(child, 'ready');
        const setup: FloorSetup = {
          type: 'setup',
          endpoint,
          env,
          traces: sample.traces,
          logs: sample.logs,
          requests: REQUESTS,
        };
        child.send(setup);
        live.push({ child, ready: await next<FloorReady>(child, 'set-up'), rounds: [] });
      } catch (err) {
        skipped.push(`${node}: ${(err as Error).message}`);
        await stopChild(child);
      }
    }
  };
  return {
    // A floor that fails is reported as not measured; it never fails the benchmark's own measurements.
    async block() {
      started ??= startAll().catch((err: unknown) => {
        skipped.push(`not measured: ${(err as Error).message}`);
      });
      await started;
      for (const l of [...live]) {
        try {
          l.child.send({ type: 'block' });
          l.rounds.push((await next<FloorBlock>(l.child, 'block')).us);
        } catch (err) {
          skipped.push(`${l.ready.node}: not measured (${(err as Error).message})`);
          live.splice(live.indexOf(l), 1);
          stoppedCpuUs += await cpu(l.child).catch(() => 0);
          await stopChild(l.child);
        }
      }
    },
    async cpuUs() {
      let us = stoppedCpuUs + (floorSink ? await cpu(floorSink) : 0);
      for (const l of live) us += await cpu(l.child);
      return us;
    },
    result: () => ({
      results: live.map(({ ready: { type: _, ...r }, rounds }) => ({ ...r, rounds })),
      skipped,
    }),
    async stop() {
      await Promise.all([...live.map((l) => l.child), ...(floorSink ? [floorSink] : [])].map(stopChild));
    },
  };
}
