/**
 * The process logger (pino, JSON to stdout). Secrets are redacted by path as a second line of defence;
 * the first is never putting them into log objects at all. Stdout is written synchronously (pino's
 * `destination` default, not its async default stream): a line is out when the call returns, so a crash
 * loses no audit line already handed over, and a slow reader holds the process back instead of growing an
 * unbounded buffer. The audit sink writes its lines in batches, so this costs one write per batch; the
 * async stream cost ~8 µs per audit line here (its string-to-buffer copies, twice per write).
 *
 * @module
 */
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Field names whose values never reach a log line (redacted at the top level and one level down). */
export const SECRET_FIELDS = ['authorization', 'token', 'apiKey', 'secret', 'password'] as const;

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'mcp-authz' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything, for unit tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
