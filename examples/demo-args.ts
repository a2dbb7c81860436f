/**
 * The demo's command line (`npm run demo -- …`): its flags, their `DEMO_*` variables, and what it says for
 * `--help` or a flag or value it does not take — a usage line, not a stack trace (an unknown flag) or a
 * configuration error about `authn.resource` (a port that is no number).
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { LogSchema } from '../src/config/schema-observability.js';

export interface DemoOptions {
  readonly once: boolean;
  /** 0: a free port. */
  readonly port: number;
  /** 0: a free port. */
  readonly adminPort: number;
  readonly logLevel: LogLevel;
}

type LogLevel = (typeof LOG_LEVELS)[number];

const LOG_LEVELS = LogSchema.shape.level.unwrap().options;

export const DEMO_USAGE = `usage: npm run demo -- [--once] [--port <n>] [--admin-port <n>] [--log-level <level>]
  --once               exit after the allowed and the denied call
  --port <n>           the sidecar's port, 0-65535 (default 8080, or DEMO_PORT; 0: a free port)
  --admin-port <n>     the admin port, 0-65535 (default 9090, or DEMO_ADMIN_PORT; 0: a free port)
  --log-level <level>  ${LOG_LEVELS.join(', ')} (default warn, or DEMO_LOG_LEVEL)
  -h, --help           print this and exit
`;

/** The first line of {@link DEMO_USAGE}, and where the rest is: what a bad flag or value is answered with. */
export const DEMO_USAGE_LINE = `${DEMO_USAGE.slice(0, DEMO_USAGE.indexOf('\n'))} (--help for more)`;

export type DemoArgs =
  | { readonly kind: 'run'; readonly options: DemoOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/** `args`: what follows `demo.ts` on the command line. */
export function parseDemoArgs(args: readonly string[], env: NodeJS.ProcessEnv): DemoArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        once: { type: 'boolean', default: false },
        port: { type: 'string' },
        'admin-port': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    // Node's message runs on with advice about `--` that does not fit here: its first sentence is the point.
    const message = (err as Error).message.split(/\.\s/)[0] ?? String(err);
    return { kind: 'error', message };
  }
  if (values.help) return { kind: 'help' };
  const port = portOf(values.port, '--port', env.DEMO_PORT, 'DEMO_PORT', 8080);
  if (typeof port === 'string') return { kind: 'error', message: port };
  const adminPort = portOf(
    values['admin-port'],
    '--admin-port',
    env.DEMO_ADMIN_PORT,
    'DEMO_ADMIN_PORT',
    9090,
  );
  if (typeof adminPort === 'string') return { kind: 'error', message: adminPort };
  if (port !== 0 && port === adminPort) {
    return { kind: 'error', message: `the sidecar and the admin listener cannot share port ${port}` };
  }
  const [level, levelFrom] =
    typeof values['log-level'] === 'string'
      ? [values['log-level'], '--log-level']
      : env.DEMO_LOG_LEVEL !== undefined
        ? [env.DEMO_LOG_LEVEL, 'DEMO_LOG_LEVEL']
        : ['warn', '--log-level'];
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    return {
      kind: 'error',
      message: `${levelFrom} must be one of ${LOG_LEVELS.join(', ')} (is ${JSON.stringify(level)})`,
    };
  }
  return {
    kind: 'run',
    options: { once: values.once === true, port, adminPort, logLevel: level as LogLevel },
  };
}

/** The port given by the flag, else the variable, else `fallback`; a message when it is no port. */
function portOf(
  flag: unknown,
  flagName: string,
  variable: string | undefined,
  variableName: string,
  fallback: number,
): number | string {
  const [text, from] =
    typeof flag === 'string' ? [flag, flagName] : variable !== undefined ? [variable, variableName] : [];
  if (text === undefined) return fallback;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  return port <= 65_535 ? port : `${from} must be a port number, 0-65535 (is ${JSON.stringify(text)})`;
}
