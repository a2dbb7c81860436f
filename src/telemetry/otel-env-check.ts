/**
 * The warnings about the pod's `OTEL_*` variables (a value ignored, an exporter not installed), read from the
 * env alone without building any SDK instance: `createTelemetry` logs them at start, and `config check`
 * prints them, as it prints every warning `serve` would log.
 *
 * @module
 */
import {
  attributeLimitFromEnv,
  batchFromEnv,
  metricExportFromEnv,
  samplerFromEnv,
  signalsFromEnv,
} from './otel-config.js';
import { resourceFromEnv } from './otel-resource.js';

/** Each `OTEL_*` problem `createTelemetry` would warn of with this env, in the order it reads them. */
export function otelEnvWarnings(env: NodeJS.ProcessEnv): string[] {
  const warnings: string[] = [];
  const { signals } = signalsFromEnv(env, warnings);
  resourceFromEnv(env, '0.0.0', warnings);
  if (signals.metrics) metricExportFromEnv(env, warnings);
  if (signals.traces) {
    samplerFromEnv(env, warnings);
    attributeLimitFromEnv(env, 'SPAN', warnings);
    batchFromEnv(env, 'OTEL_BSP', warnings);
  }
  if (signals.logs) {
    attributeLimitFromEnv(env, 'LOGRECORD', warnings);
    batchFromEnv(env, 'OTEL_BLRP', warnings);
  }
  return warnings;
}
