/**
 * Runs `mcp-authz serve` as a separate process (the real command, config from a YAML file), for tests
 * where two sidecar processes must share one Redis. Resolves once the process logs that it listens.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROOT } from './policy.js';
import { tempDir } from './temp-dir.js';

export interface SidecarProcess {
  readonly publicUrl: string;
  readonly adminUrl: string;
  readonly output: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGTERM without waiting; `exited` resolves with the exit code. */
  terminate(): void;
  /** Sends another signal without waiting. */
  signal(name: NodeJS.Signals): void;
  /** Stops reading the process's stdout: once the pipe is full, its writes wait (a slow log collector). */
  pauseOutput(): void;
  /** Reads its stdout again. */
  resumeOutput(): void;
  readonly exited: Promise<number | null>;
}

export async function startSidecarProcess(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<SidecarProcess> {
  const dir = tempDir('sidecar-proc');
  const file = join(dir, 'config.yaml');
  // SIGTERM stops at once (no drain delay) unless the test sets one.
  const server = { shutdownDelayMs: 0, ...((config.server as Record<string, unknown> | undefined) ?? {}) };
  writeFileSync(file, stringify({ ...config, server }));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', 'serve', '--config', file],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const listening = new Promise<{ publicUrl: string; adminUrl: string }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('mcp-authz listening')) continue;
        const rec = JSON.parse(line) as { public: string; admin: string };
        resolve({ publicUrl: rec.public, adminUrl: rec.admin });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('exit', (code) => reject(new Error(`sidecar exited with ${code}:\n${out}`)));
  });
  // 'close', not 'exit': 'exit' can come before the last lines written to stdout have been read, and the
  // tests read the output (its last line above all) as soon as this resolves.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const urls = await listening;
  return {
    ...urls,
    output: () => out,
    exited,
    terminate: () => void child.kill('SIGTERM'),
    signal: (name) => void child.kill(name),
    pauseOutput: () => void child.stdout?.pause(),
    resumeOutput: () => void child.stdout?.resume(),
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
