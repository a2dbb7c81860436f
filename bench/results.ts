/**
 * Writes a benchmark's table into `bench/RESULTS.md` between `<!-- name:start -->` / `<!-- name:end -->`
 * markers, with the command that produced it and the machine it ran on, leaving other sections alone.
 *
 * @module
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

const FILE = join(import.meta.dirname, 'RESULTS.md');

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return `${cpus().length} × ${cpu}, Node ${process.version}`;
}

export function writeSection(name: string, title: string, command: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n## ${title}\n\nCommand: \`${command}\` — ${new Date().toISOString().slice(0, 10)}, ${machine()}\n\n${body.trim()}\n${end}`;
  let text = existsSync(FILE)
    ? readFileSync(FILE, 'utf8')
    : '# Benchmark results\n\nRecorded by the benchmark scripts; ratios are against baselines measured in the same run.\n';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a !== -1 && b > a) text = text.slice(0, a) + section + text.slice(b + end.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, text);
}
