/**
 * Runs `telemetry-floor.ts` (the OpenTelemetry SDK's own cost for what the OTLP sidecar exports per
 * request) inside `npm run bench`'s rounds: one block right after each measured round of the telemetry-off
 * sidecar at c=32, so each block is paired with the round measured at the same speed of this drifting VM
 * (as the throughput ratios are). On the proxies' CPU, once on this Node and once on the release the
 * container image runs (`scripts/node-image.mjs`; `BENCH_NODE_IMAGE=0` skips that).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { imageNode } from './image-node.js';
import type { AfterMeasure } from './measure.js';
import type { OtlpSample, OtlpSinkReady } from './otlp-sink.js';
import {
  type Children,
  cpu,
  gone,
  LOAD_CPU,
  next,
  SERVER_CPU,
  sinkStats,
  start,
  stopChild,
} from './processes.js';
import type { FloorBlock, FloorReady, FloorSetup } from './telemetry-floor.js';

export interface FloorOnNode extends Omit<FloorReady, 'type'> {
  /** CPU µs per request of each block, one per measured round. */
  readonly rounds: readonly number[];
}

export interface TelemetryFloor {
  readonly results: readonly FloorOnNode[];
  /** Why a Node release was not measured. */
  readonly skipped: readonly string[];
  /** What the floor's receiver got per replayed request (all Node releases together); null if unknown. */
  readonly exported: { readonly spans: number; readonly logs: number } | null;
}

/** Replayed requests per block (about a second of CPU). */
const REQUESTS = 20_000;
/** A floor process that says nothing for this long is given up (a block takes a few seconds). */
const ANSWER_TIMEOUT_MS = 120_000;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no ${what} within ${ANSWER_TIMEOUT_MS / 1000} s`)),
      ANSWER_TIMEOUT_MS,
    );
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export interface FloorRunner {
  /** One block on each Node (after a round of the telemetry-off sidecar at c=32). */
  block(): Promise<void>;
  /** For `measureAll`: a block right after each c=32 round of the telemetry-off sidecar on the raw upstream. */
  readonly afterMeasure: AfterMeasure;
  /** CPU µs the floor's processes have used (the benchmark's own, not other load on the machine). */
  cpuUs(): Promise<number>;
  /** The blocks so far, and what the floor's receiver got (before `stop`). */
  result(): Promise<TelemetryFloor>;
  stop(): Promise<void>;
}

/**
 * The floor's processes, started at the first block and set up with the receiver's sample of what the OTLP
 * sidecar exported (the preflight and the c=1 rounds have filled it by then); null without a receiver. The
 * image's Node is fetched now, before the measurements. The floor runs with the proxies' `NODE_OPTIONS`
 * (the image's V8 flags) and exports to a receiver of its own (on the load generator's CPU, as the
 * sidecar's), so the sidecar's receiver counts only what the sidecar sent. A floor that fails is reported
 * as not measured; it never fails or holds up the benchmark's own measurements.
 */
export function floorRunner(
  children: Children,
  sink: ChildProcess | null,
  env: Record<string, string>,
  nodeOptions: string,
): FloorRunner | null {
  if (!sink) return null;
  const skipped: string[] = [];
  const image = imageNode();
  if ('skipped' in image) skipped.push(`the image's Node: ${image.skipped}`);
  const live: { child: ChildProcess; ready: FloorReady; rounds: number[] }[] = [];
  let floorSink: ChildProcess | undefined;
  /** CPU µs of floor processes stopped after a failure. */
  let stoppedCpuUs = 0;
  /** Requests replayed in all (warm-ups included), for what the receiver got per request. */
  let replayed = 0;
  let started: Promise<void> | undefined;
  const giveUp = async (child: ChildProcess, node: string, err: unknown): Promise<void> => {
    skipped.push(`${node}: not measured (${(err as Error).message})`);
    if (!gone(child)) stoppedCpuUs += await within(cpu(child), 'CPU time').catch(() => 0);
    await stopChild(child);
  };
  const startAll = async (): Promise<void> => {
    sink.send({ type: 'sample' });
    const sample = await within(next<OtlpSample>(sink, 'sample'), 'sample');
    if (!sample.traces || !sample.logs) {
      skipped.push('the receiver had no protobuf traces or logs to replay');
      return;
    }
    floorSink = start(children, 'otlp-sink.ts', [], LOAD_CPU);
    const { endpoint } = await within(next<OtlpSinkReady>(floorSink, 'ready'), 'receiver');
    for (const node of [process.execPath, ...('node' in image ? [image.node] : [])]) {
      const child = start(
        children,
        'telemetry-floor.ts',
        [],
        SERVER_CPU,
        { NODE_OPTIONS: nodeOptions },
        node,
      );
      try {
        await within(next(child, 'ready'), 'start');
        const setup: FloorSetup = {
          type: 'setup',
          endpoint,
          env,
          traces: sample.traces,
          logs: sample.logs,
          requests: REQUESTS,
        };
        child.send(setup);
        live.push({ child, ready: await within(next<FloorReady>(child, 'set-up'), 'set-up'), rounds: [] });
        replayed += REQUESTS;
      } catch (err) {
        await giveUp(child, node, err);
      }
    }
  };
  const runner: FloorRunner = {
    afterMeasure: async (upstream, t, c) => {
      if (upstream === 'raw' && c === 32 && t.name === 'sidecar, JWT') await runner.block();
    },
    async block() {
      started ??= startAll().catch((err: unknown) => {
        skipped.push(`not measured: ${(err as Error).message}`);
      });
      await started;
      for (const l of [...live]) {
        try {
          if (gone(l.child)) throw new Error('its process is gone');
          l.child.send({ type: 'block' });
          l.rounds.push((await within(next<FloorBlock>(l.child, 'block'), 'block')).us);
          replayed += REQUESTS;
        } catch (err) {
          live.splice(live.indexOf(l), 1);
          await giveUp(l.child, l.ready.node, err);
        }
      }
    },
    async cpuUs() {
      let us = stoppedCpuUs;
      for (const c of [...(floorSink ? [floorSink] : []), ...live.map((l) => l.child)])
        if (!gone(c)) us += await within(cpu(c), 'CPU time').catch(() => 0);
      return us;
    },
    async result() {
      const stats =
        floorSink && !gone(floorSink) ? await within(sinkStats(floorSink), 'counts').catch(() => null) : null;
      return {
        results: live.map(({ ready: { type: _, ...r }, rounds }) => ({ ...r, rounds })),
        skipped,
        exported:
          stats && replayed > 0
            ? { spans: stats.signals.traces.records / replayed, logs: stats.signals.logs.records / replayed }
            : null,
      };
    },
    async stop() {
      await Promise.all([...live.map((l) => l.child), ...(floorSink ? [floorSink] : [])].map(stopChild));
    },
  };
  return runner;
}
