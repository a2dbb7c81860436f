/**
 * The child processes of `npm run bench` (`run.ts`): starting the compiled `servers.ts`, `load.ts` and
 * `otlp-sink.ts` pinned to a CPU (when `taskset` and two CPUs exist), re-pinning them, waiting for their
 * IPC replies (readiness, CPU time, receiver counters), stopping them at the end or on a signal, and the
 * whole machine's CPU counters from /proc/stat.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { OtlpStats } from './otlp-sink.js';
import type { CpuReply } from './servers.js';
import { ROOT } from './settings.js';

export const canPin =
  process.env.BENCH_PIN !== '0' &&
  cpus().length >= 2 &&
  spawnSync('taskset', ['-c', '0', 'true']).status === 0;
export const LOAD_CPU = '0';
export const SERVER_CPU = '1';

/** Busy and total CPU time of the whole machine so far (µs), from /proc/stat; null where there is none. */
export function machineCpu(): { busyUs: number; stealUs: number; totalUs: number } | null {
  try {
    const f =
      readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const tick = 1e6 / 100; // USER_HZ
    const busy = user + nice + system + irq + softirq;
    return { busyUs: busy * tick, stealUs: steal * tick, totalUs: (busy + idle + iowait + steal) * tick };
  } catch {
    return null;
  }
}

/** The children started so far, and the lines of theirs that were counted instead of printed. */
export interface Children {
  readonly all: ChildProcess[];
  /** Lines the sidecars log when the load generator closes its sockets with requests in flight. */
  abortedAtPhaseEnd: number;
  /** Abuse-rule alerts the sidecars log (tool-call-burst counts calls per subject). */
  abuseAlerts: number;
}

/** An empty set of children, each to be sent SIGTERM when this process exits or gets SIGINT / SIGTERM. */
export function childrenStoppedOnExit(): Children {
  const children: Children = { all: [], abortedAtPhaseEnd: 0, abuseAlerts: 0 };
  function stopChildren(): void {
    for (const c of children.all) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
  process.on('exit', stopChildren);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      stopChildren();
      process.exit(130);
    });
  }
  return children;
}

/**
 * The `NODE_OPTIONS` of the container image (the Dockerfile's `ENV NODE_OPTIONS="…"`), so the proxies
 * process runs with the V8 flags the sidecar ships with; '' when the Dockerfile sets none.
 */
export function imageNodeOptions(): string {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  return /^\s*NODE_OPTIONS="([^"]*)"/m.exec(dockerfile)?.[1] ?? '';
}

/**
 * The measured processes run the compiled JavaScript (`tsc -p tsconfig.bench.json`, which `npm run bench`
 * runs first), as the container does: under tsx every closure the request path creates would also pay
 * for esbuild's `keepNames` helper, a cost production never has. `node` is the Node binary (another
 * release than this one's, say).
 */
export function start(
  children: Children,
  script: string,
  args: string[],
  cpu: string,
  env: NodeJS.ProcessEnv = {},
  node = process.execPath,
): ChildProcess {
  const compiled = join(ROOT, 'dist', 'bench', script.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled))
    throw new Error(`${compiled} is missing: run \`npx tsc -p tsconfig.bench.json\` (npm run bench does)`);
  const line = [node, compiled, ...args];
  const [cmd, ...argv] = canPin ? ['taskset', '-c', cpu, ...line] : line;
  const child = spawn(cmd as string, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  // Every autocannon phase ends by destroying its sockets; the sidecar logs each request that was in
  // flight then as a warning. Count those instead of printing them; print everything else.
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line.includes('"This operation was aborted"') || line.includes('"client went away"'))
      children.abortedAtPhaseEnd++;
    else if (line.includes('"abuse rule ')) children.abuseAlerts++;
    else console.log(line);
  });
  // A send to a child that has died emits 'error' (ERR_IPC_CHANNEL_CLOSED): said, not an uncaught crash.
  child.on('error', (err) => console.error(`${script} (pid ${child.pid}): ${err.message}`));
  children.all.push(child);
  return child;
}

/** The child has exited (by itself or by a signal), or its IPC channel is gone. */
export const gone = (child: ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null || !child.connected;

export function next<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolveMsg, reject) => {
    if (gone(child)) {
      reject(new Error(`child ${child.pid} is gone while waiting for ${type}`));
      return;
    }
    const onMessage = (m: { type: string; message?: string }) => {
      if (m.type === 'error') {
        cleanup();
        reject(new Error(m.message));
      } else if (m.type === type) {
        cleanup();
        resolveMsg(m as T);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code}) while waiting for ${type}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Moves the processes `pids` (all their threads) to `cpuList`; nothing without pinning. */
export function pin(pids: ReadonlyArray<number | undefined>, cpuList: string): void {
  if (!canPin) return;
  for (const pid of pids)
    if (pid) spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
}

/** The CPU time (µs) a `servers.ts`, `load.ts` or `otlp-sink.ts` child has used so far. */
export async function cpu(child: ChildProcess): Promise<number> {
  child.send({ type: 'cpu' });
  return (await next<CpuReply>(child, 'cpu')).us;
}

/** What the OTLP receiver has counted so far; null without one. */
export async function sinkStats(sinkChild: ChildProcess | null): Promise<OtlpStats | null> {
  if (!sinkChild) return null;
  sinkChild.send({ type: 'stats' });
  return next<OtlpStats>(sinkChild, 'stats');
}

/** Asks a child to stop (IPC `stop`) and waits for it to exit. */
export const stopChild = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) r();
    else if (!c.connected) {
      c.once('exit', () => r());
      c.kill();
    } else {
      c.once('exit', () => r());
      c.send({ type: 'stop' });
    }
  });
