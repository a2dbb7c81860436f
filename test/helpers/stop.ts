/**
 * Test helper: a sidecar's stop observed from outside, for the shutdown tests of either transport: a stop
 * is under way once its public port refuses new connections (the listener closes first, before the drain).
 *
 * @module
 */
import { connect } from 'node:net';
import type { Harness } from './sidecar.js';
import { until } from './wait.js';

/** Whether a new connection to `port` is refused (the listener is closed). */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/**
 * Begins `h`'s stop and waits until it is under way (the public port refuses connections); resolves with
 * the stop's own promise.
 */
export async function stopUnderWay(h: Harness): Promise<{ readonly done: Promise<void> }> {
  const done = h.sidecar.stop();
  await until(10_000, () => refused(Number(new URL(h.sidecar.publicUrl).port)), 10);
  return { done };
}
