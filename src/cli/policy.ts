/**
 * `mcp-authz policy check|eval`: load a bundle the way the sidecar does and show its revision and
 * entrypoints, or evaluate an input document against it — the quickest way for a policy author to see
 * what the sidecar would decide.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readBundle } from '../policy/bundle.js';
import { PolicyEngine } from '../policy/engine.js';
import type { PolicyInput } from '../policy/input.js';
import { silentLogger } from '../telemetry/logger.js';

const DEFAULT_BUNDLE = 'build/policy/bundle';

export function register(program: Command): void {
  const policy = program.command('policy').description('inspect and evaluate policy bundles');
  policy
    .command('check')
    .description('load a bundle (folder, .tar.gz or URL) and print its revision')
    .argument('[bundle]', 'bundle location', DEFAULT_BUNDLE)
    .action(async (location: string) => {
      const engine = await loadEngine(location);
      process.stdout.write(`${JSON.stringify(engine.status(), null, 2)}\n`);
    });
  policy
    .command('eval')
    .description('evaluate an input JSON file (or - for stdin) with the decision or visible entrypoint')
    .argument('<input>', 'input JSON file, - for stdin')
    .option('-b, --bundle <location>', 'bundle location', DEFAULT_BUNDLE)
    .option('--visible', 'evaluate the visible entrypoint instead of decision')
    .action(async (file: string, opts: { bundle: string; visible?: boolean }) => {
      const engine = await loadEngine(opts.bundle);
      const input = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as PolicyInput;
      const out = opts.visible ? { visible: engine.visible(input) } : engine.decide(input);
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}

async function loadEngine(location: string): Promise<PolicyEngine> {
  const engine = new PolicyEngine({
    decisionEntrypoint: 'mcp/authz/decision',
    visibleEntrypoint: 'mcp/authz/visible',
    logger: silentLogger(),
  });
  try {
    await engine.load(await readBundle(location));
  } catch (err) {
    process.stderr.write(`mcp-authz: ${(err as Error).message}\n`);
    process.exit(1);
  }
  return engine;
}
