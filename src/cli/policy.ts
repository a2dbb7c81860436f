/**
 * `mcp-authz policy check|eval`: load a bundle the way the sidecar does and show its status (revision,
 * source, errors), or evaluate an input document against it — the quickest way for a policy author to see
 * what the sidecar would decide. The bundle and the entrypoints come from the configuration (`--config`,
 * `AUTHZ_CONFIG`, `AUTHZ_POLICY_BUNDLE`, …: inside the image, the sidecar's own config), unless named.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { openSecret, secretIssues } from '../config/secrets.js';
import { readBundle } from '../policy/bundle.js';
import { isUrl } from '../policy/bundle-download.js';
import { type Decision, unknownObligations } from '../policy/decision.js';
import { PolicyEngine } from '../policy/engine.js';
import type { PolicyInput } from '../policy/input.js';
import { policyInputSchemaFor } from '../policy/input-schema.js';
import { silentLogger } from '../telemetry/logger.js';
import { loadCliConfig } from './config.js';
import { type CliIo, fail, processIo } from './table.js';

interface PolicyOpts {
  readonly config?: string;
  readonly bundle?: string;
  readonly visible?: boolean;
}

/** `policy eval`'s exit code when the policy failed (no policy, an evaluation error, a malformed result). */
export const EXIT_EVALUATION_FAILED = 2;

const CONFIG_OPTION = ['-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)'] as const;
const BUNDLE_HELP = 'bundle: folder, .tar.gz or URL (default: policy.bundle of the config)';

/** What `policy eval` accepts: the policy input document of DESIGN.md, an object with these four parts. */
const InputSchema = z.looseObject({
  subject: z.record(z.string(), z.unknown()),
  action: z.record(z.string(), z.unknown()),
  resource: z.record(z.string(), z.unknown()),
  context: z.record(z.string(), z.unknown()),
});

export function register(program: Command, io: CliIo = processIo): void {
  const policy = program.command('policy').description('inspect and evaluate policy bundles');
  policy
    .command('check')
    .description('load a bundle as the sidecar does and print its status (revision, source, errors)')
    .argument('[bundle]', BUNDLE_HELP)
    .option(...CONFIG_OPTION)
    .action((location: string | undefined, _opts: PolicyOpts, cmd: Command) =>
      guarded(io, async () => {
        const engine = await loadEngine({ ...cmd.optsWithGlobals<PolicyOpts>(), bundle: location }, io);
        io.out(`${JSON.stringify(engine.status(), null, 2)}\n`);
      }),
    );
  policy
    .command('eval')
    .description('evaluate an input JSON file (or - for stdin) with the decision or visible entrypoint')
    .argument('<input>', 'input JSON file, - for stdin')
    .option('-b, --bundle <location>', BUNDLE_HELP)
    .option('--visible', 'evaluate the visible entrypoint instead of decision')
    .option(...CONFIG_OPTION)
    .action((file: string, _opts: PolicyOpts, cmd: Command) =>
      guarded(io, async () => {
        const opts = cmd.optsWithGlobals<PolicyOpts>();
        const input = readInput(file);
        const inputWarnings = unlikeSidecarInput(input);
        const engine = await loadEngine(opts, io);
        if (opts.visible) {
          const { visible, failure } = engine.visibleExplained(input);
          const view = {
            visible,
            revision: engine.revision,
            ...(failure ? { failure: failure.kind, failure_detail: failure.detail } : {}),
            ...(inputWarnings.length ? { input_warnings: inputWarnings } : {}),
          };
          io.out(`${JSON.stringify(view, null, 2)}\n`);
          // As for a decision: a failed evaluation hides the item, but it is no answer of the policy's.
          if (failure) io.exit(EXIT_EVALUATION_FAILED);
          return;
        }
        const decision = engine.decide(input);
        const view = {
          ...decisionView(decision),
          ...(inputWarnings.length ? { input_warnings: inputWarnings } : {}),
        };
        io.out(`${JSON.stringify(view, null, 2)}\n`);
        // A failed evaluation is no decision of the policy's: a script or CI job must not read it as one.
        if (decision.failure) io.exit(EXIT_EVALUATION_FAILED);
      }),
    );
}

/** At most this many of an input's differences from the sidecar's are shown. */
const MAX_INPUT_WARNINGS = 10;

/**
 * Where a hand-written input differs from every input the sidecar builds (`schema/policy-input.json`): a field
 * it never sends (`subject.teant`), one it always sends left out, a value of another type. The policy still
 * evaluates it as given; the warning says that the sidecar would never ask this, so the answer may not be
 * the one a real request gets. The action is held to the shape the sidecar sends for its `method`.
 */
function unlikeSidecarInput(input: PolicyInput): string[] {
  const r = policyInputSchemaFor(input.action.method, input.action).safeParse(input);
  if (r.success) return [];
  const lines = r.error.issues.flatMap((i) => {
    const at = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => `${at ? `${at}.` : ''}${k}: not a field the sidecar sends`);
    }
    if (valueAt(input, i.path) === undefined) return [`${at}: missing (the sidecar always sends it)`];
    return [`${at || '(root)'}: ${i.message}`];
  });
  const more = lines.length - MAX_INPUT_WARNINGS;
  return more > 0 ? [...lines.slice(0, MAX_INPUT_WARNINGS), `(and ${more} more)`] : lines;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path)
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

/**
 * A decision as the policy contract names it (`required_scopes`), with the revision that made it and, for
 * a deny that came from a failure, what failed (a malformed result names the field).
 */
function decisionView(d: Decision): Record<string, unknown> {
  const warnings = unknownObligations(d.obligations);
  return {
    allow: d.allow,
    reasons: d.reasons,
    obligations: d.obligations,
    ...(d.sensitivity !== undefined ? { sensitivity: d.sensitivity } : {}),
    required_scopes: d.requiredScopes ?? [],
    revision: d.revision,
    ...(d.failure ? { failure: d.failure } : {}),
    ...(d.failureDetail ? { failure_detail: d.failureDetail } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
}

async function guarded(io: CliIo, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    fail(io, err);
  }
}

function readInput(file: string): PolicyInput {
  const where = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not JSON: ${(err as Error).message}`);
  }
  const parsed = InputSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(root)';
    throw new Error(
      `${where} is not a policy input ({subject, action, resource, context}): ${path}: ${issue?.message}`,
    );
  }
  return parsed.data as unknown as PolicyInput;
}

/**
 * An engine with the bundle loaded; entrypoints and (unless named) the bundle from the configuration. With
 * `policy.verification` configured, the bundle (a named one too) must verify, as the sidecar requires: a
 * check or an evaluation never runs a bundle the sidecar would refuse.
 */
function loadEngine(opts: PolicyOpts, io: CliIo): Promise<PolicyEngine> {
  return loadEngineFor(loadCliConfig(opts.config, io), opts.bundle);
}

/** {@link loadEngine} for a configuration already loaded (`config check`). */
export async function loadEngineFor(config: Config, bundle?: string): Promise<PolicyEngine> {
  const engine = new PolicyEngine({
    decisionEntrypoint: config.policy.decisionEntrypoint,
    visibleEntrypoint: config.policy.visibleEntrypoint,
    logger: silentLogger(),
  });
  const location = bundle ?? config.policy.bundle;
  const verification = config.policy.verification;
  // A URL is fetched with the sidecar's bearer token, when one is configured — only at the origin of
  // policy.bundle, where the sidecar sends it: a bundle URL named on the command line may be anyone's.
  const withToken = isUrl(location) && sameOrigin(location, config.policy.bundle);
  const needed = [
    ...(verification ? (['bundleVerificationKey'] as const) : []),
    ...(withToken ? (['bundleToken'] as const) : []),
  ];
  const unreadable = secretIssues(config, process.env, needed);
  if (unreadable.length) throw new Error(unreadable.join('; '));
  const key = verification ? openSecret(config, 'bundleVerificationKey') : undefined;
  const token = withToken ? openSecret(config, 'bundleToken') : undefined;
  try {
    await engine.load(
      await readBundle(
        location,
        undefined,
        verification && key ? { ...verification, key: () => key.get() } : undefined,
        token
          ? { token: () => token.get(), configured: config.policy.bundleTokenFile !== undefined }
          : undefined,
        config.policy.maxBundleBytes,
      ),
    );
  } finally {
    key?.close();
    token?.close();
  }
  return engine;
}

/** Whether two http(s) URLs share scheme, host and port (false for anything that is no URL). */
function sameOrigin(a: string, b: string): boolean {
  if (!isUrl(a) || !isUrl(b) || !URL.canParse(a) || !URL.canParse(b)) return false;
  return new URL(a).origin === new URL(b).origin;
}
