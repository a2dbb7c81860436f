/**
 * The settings of `npm run bench` (`run.ts`): the BENCH_* environment variables with their defaults and
 * limits (the module comment of `run.ts` describes each), the concurrencies measured, the goals the
 * tables judge against, and the command line a RESULTS.md section records.
 *
 * @module
 */
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
const num = (name: string, dflt: number, min = 0): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}`);
  return n;
};
export const DURATION = num('BENCH_DURATION', 3, 1);
export const ROUNDS = Math.round(num('BENCH_ROUNDS', 3, 1));
export const WARMUP = num('BENCH_WARMUP', 1);
export const SDK_DURATION = num('BENCH_SDK_DURATION', 3, 1);
export const AUDIT = process.env.BENCH_AUDIT !== '0';
export const REDIS = process.env.BENCH_REDIS !== '0';
export const RL_MEMORY_OFF = REDIS && process.env.BENCH_RL_MEMORY_OFF === '1';
export const TELEMETRY = process.env.BENCH_TELEMETRY !== '0';
export const OTLP_METRIC_INTERVAL_MS = Math.round(num('BENCH_OTLP_METRIC_INTERVAL', 5_000, 100));
export const SUBJECTS = Math.round(num('BENCH_SUBJECTS', 1000, 1));
export const PROFILE = process.env.BENCH_PROFILE === '1';
/** A trace sampler for the OTLP sidecar (`OTEL_TRACES_SAMPLER` / `_ARG`); set, the run records `telemetry-sampled`. */
export const OTLP_SAMPLER = process.env.BENCH_OTLP_TRACES_SAMPLER ?? '';
export const OTLP_SAMPLER_ARG = process.env.BENCH_OTLP_TRACES_SAMPLER_ARG ?? '';
export const samplerText = OTLP_SAMPLER
  ? `\`${OTLP_SAMPLER}\`${OTLP_SAMPLER_ARG ? ` with ratio ${OTLP_SAMPLER_ARG}` : ''}`
  : '`parentbased_always_on` (the default)';
export const CONCURRENCY = [1, 32] as const;
export const TARGET_RPS_RATIO = 0.8;
export const TARGET_ADDED_P50_MS = 0.3;
export const TARGET_TELEMETRY_COST = 0.1;

/** The command a RESULTS.md section records: `npm run bench` with the BENCH_* variables that were set. */
export function benchCommand(): string {
  const envUsed = [
    'BENCH_DURATION',
    'BENCH_ROUNDS',
    'BENCH_WARMUP',
    'BENCH_SDK_DURATION',
    'BENCH_SUBJECTS',
    'BENCH_AUDIT',
    'BENCH_REDIS',
    'BENCH_RL_MEMORY_OFF',
    'BENCH_TELEMETRY',
    'BENCH_OTLP_METRIC_INTERVAL',
    'BENCH_OTLP_TRACES_SAMPLER',
    'BENCH_OTLP_TRACES_SAMPLER_ARG',
    'BENCH_PIN',
    'BENCH_PROFILE',
  ]
    .map((k) => [k, process.env[k]] as const)
    .filter(([, v]) => v !== undefined && v !== '');
  return `${envUsed.map(([k, v]) => `${k}=${v} `).join('')}npm run bench`;
}
