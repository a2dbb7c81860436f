/**
 * How busy the machine was around `npm run bench` (`run.ts`): the share of all CPUs busy just before the
 * run, and while it measured the CPU time used by processes other than the benchmark's own (its
 * children, Redis and itself) and the hypervisor's steal, as the note the proxy section ends with.
 *
 * @module
 */

import type { Rig } from './measure.js';
import { cpu, machineCpu } from './processes.js';
import { redisCounters } from './redis.js';

/** The machine's CPU counters and the CPU time the benchmark's own processes have used (µs), at one moment. */
export interface CpuMark {
  readonly machine: ReturnType<typeof machineCpu>;
  readonly own: number;
}

/** % of all CPUs busy over one second, before anything starts; null without /proc/stat. */
export async function backgroundLoad(): Promise<number | null> {
  // How busy is the machine before we start? Other work on a 2-CPU VM skews everything.
  const idle0 = machineCpu();
  await new Promise((r) => setTimeout(r, 1_000));
  const idle1 = machineCpu();
  return idle0 && idle1 ? (100 * (idle1.busyUs - idle0.busyUs)) / (idle1.totalUs - idle0.totalUs) : null;
}

/** `extraUs`: CPU time of the benchmark's other processes (the telemetry floor's). */
export async function cpuMark(rig: Rig, extraUs = 0): Promise<CpuMark> {
  const machine = machineCpu();
  const own =
    extraUs +
    (await cpu(rig.proxies)) +
    (await cpu(rig.upstreams)) +
    (await cpu(rig.load)) +
    (rig.sink ? await cpu(rig.sink) : 0) +
    (await redisCounters(rig.redis)).cpuUs +
    process.cpuUsage().user +
    process.cpuUsage().system;
  return { machine, own };
}

/** The machine-load sentence of the proxy section ('' where a figure is missing). */
export function machineLoadNote(backgroundPct: number | null, run0: CpuMark, run1: CpuMark): string {
  // CPU the rest of the machine used while we measured (other processes, the kernel's own work), in % of
  // all CPUs, and the hypervisor's steal.
  const [runCpu0, runCpu1] = [run0.machine, run1.machine];
  const interference =
    runCpu0 && runCpu1
      ? {
          othersPct:
            (100 * (runCpu1.busyUs - runCpu0.busyUs - (run1.own - run0.own))) /
            (runCpu1.totalUs - runCpu0.totalUs),
          stealPct: (100 * (runCpu1.stealUs - runCpu0.stealUs)) / (runCpu1.totalUs - runCpu0.totalUs),
        }
      : null;
  return interference && backgroundPct !== null
    ? `Machine load: ${backgroundPct.toFixed(0)} % of all CPUs busy just before the run; during the measurements ` +
        `other processes (and kernel work not charged to the benchmark's processes) used ${Math.max(0, interference.othersPct).toFixed(0)} % ` +
        `and the hypervisor stole ${interference.stealPct.toFixed(1)} %.`
    : '';
}
