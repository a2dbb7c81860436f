/**
 * The process logger (pino, JSON to stdout). Secrets are redacted at any depth as a second line of defence
 * (`log-secrets.ts`: the log object, a child's bindings, the message, and the objects a printf-style message
 * writes into it); the first is never putting them into log objects at all. Stdout is pino's default asynchronous stream, on
 * purpose: its synchronous mode answers a full non-blocking pipe by sleeping 100 ms and retrying, which
 * stalls every request; the audit sink keeps the asynchronous stream's cost down by writing a batch of
 * lines at once.
 *
 * @module
 */
import { types } from 'node:util';
import { type Logger, pino } from 'pino';
import { TRUNCATED } from '../audit/argument-budget.js';
import { redactLogMessage, redactLogObject } from './log-secrets.js';

export type { Logger } from 'pino';
export { SECRET_FIELDS } from './log-secrets.js';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'mcp-authz' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Pino's `redact` paths reach one level per wildcard; this walk reaches any (bounded), and leaves a line
    // with nothing to redact as it is.
    formatters: { level: (label) => ({ level: label }), log: redactedLogObject, bindings: redactedLogObject },
    // The message is no part of the object formatters.log sees (pino's default `err` serializer is kept).
    serializers: { msg: redactLogMessage },
    // Nor are the values `%o`, `%O` and `%j` write into it as JSON: walked here, before pino formats them.
    hooks: { logMethod: redactInterpolated },
    // A child's bindings are written once, when it is made: pino gives them no formatter, so they are
    // checked here and written again, redacted, if they hold a secret — all of them, its parents' included.
    // Its later `setBindings` calls go through a bindings formatter too, which pino resets for a child: set
    // back to the walk, around one given for the child (`formatters.bindings`) if any.
    onChild: (child) => {
      const formatters = Reflect.get(child, pino.symbols.formattersSym) as Formatters;
      const own = formatters.bindings;
      Reflect.set(child, pino.symbols.formattersSym, {
        ...formatters,
        bindings: (b: Record<string, unknown>) => redactedLogObject(own(b)),
      });
      const bindings = writtenBindings(child);
      const clean = redactLogObject(bindings);
      if (clean === bindings) return;
      Reflect.set(child, pino.symbols.chindingsSym, '');
      child.setBindings(clean);
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

type Formatters = { bindings: (bindings: Record<string, unknown>) => Record<string, unknown> };

/** What a log object or bindings that cannot be read (a Proxy whose traps throw) are written as. */
export const UNREADABLE = '[unreadable]';

/**
 * A log object or bindings redacted, or `{ log_object: '[unreadable]' }` when they cannot be read: the log
 * call writes its line (level, time, message) and does not throw, and what was not looked at is not written.
 */
function redactedLogObject<T extends object>(obj: T): T {
  try {
    return redactLogObject(obj);
  } catch {
    return { log_object: UNREADABLE } as unknown as T;
  }
}

/**
 * The log call's arguments after the first (the values of a printf-style message, or the message and its
 * values after a log object) with each object among them walked as a log object is: `%o`, `%O` and `%j`
 * write one into the message as JSON, whose fields no formatter sees, and text written by value is scrubbed
 * with the message. Most calls have no such argument: nothing is copied. A log object that is a Proxy is
 * walked here, before pino reads its `msg` (a trap that throws would make the call throw before any
 * formatter runs).
 */
function redactInterpolated(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn): void {
  let out: unknown[] | undefined;
  const first: unknown = args[0];
  if (typeof first === 'object' && first !== null && types.isProxy(first)) {
    out = [...args];
    out[0] = plainLogObject(first);
  }
  for (let i = 1; i < args.length; i++) {
    const v: unknown = args[i];
    if (typeof v !== 'object' || v === null) continue;
    const clean = redactedOrTruncated(v);
    if (clean === v) continue;
    out ??= [...args];
    out[i] = clean;
  }
  Reflect.apply(method, this, out ?? args);
}

/**
 * A Proxy given as the log object, as an object pino can read without its traps (formatters.log walks it as
 * any other), or `{ log_object: '[unreadable]' }` when its traps throw.
 */
function plainLogObject(proxy: object): object {
  try {
    const clean = redactLogObject(proxy);
    return clean === proxy ? copyOf(proxy) : clean;
  } catch {
    return { log_object: UNREADABLE };
  }
}

/**
 * A Proxy's own properties, each read once, on an object of its prototype: an error stays one (pino writes
 * its type, message and stack, which are not enumerable: a spread dropped them and the line said nothing), and
 * an object keeps the `toJSON` of its class.
 */
function copyOf(proxy: object): object {
  const error = proxy instanceof Error || types.isNativeError(proxy);
  const keys = error ? Object.getOwnPropertyNames(proxy) : Object.keys(proxy);
  const out = Object.create(Object.getPrototypeOf(proxy)) as object;
  for (const k of keys) {
    const enumerable = Object.getOwnPropertyDescriptor(proxy, k)?.enumerable ?? true;
    const value: unknown = Reflect.get(proxy, k);
    Object.defineProperty(out, k, { value, enumerable, writable: true, configurable: true });
  }
  // Node 24's V8 gives an error's stack only to the error itself, not through a Proxy: its first line stands in.
  if (error && typeof (out as { stack?: unknown }).stack !== 'string') {
    const stack = Error.prototype.toString.call(proxy);
    Object.defineProperty(out, 'stack', { value: stack, writable: true, configurable: true });
  }
  return out;
}

/**
 * `value` redacted, or {@link TRUNCATED} when it cannot be looked at (a Proxy whose traps throw): a log call
 * never throws for its arguments, as pino itself does not (it writes what it cannot stringify as a notice),
 * and what was not looked at is not written.
 */
function redactedOrTruncated(value: object): unknown {
  try {
    return redactLogObject(value);
  } catch {
    return TRUNCATED;
  }
}

/**
 * Every binding a logger writes on each line, as it writes them. Not pino's `bindings()`, which leaves out
 * `pid` and `hostname` (its default base fields): a child rebuilt from it would write neither, its root's
 * nor its own.
 */
function writtenBindings(logger: Logger): Record<string, unknown> {
  const written = Reflect.get(logger, pino.symbols.chindingsSym) as string;
  return JSON.parse(`{${written.slice(1)}}`) as Record<string, unknown>;
}

/**
 * Ends the log's stream and calls `done` once what was written to it is out (at once for a stream that cannot
 * say). The stdout stream writes asynchronously, and pino writes what is left synchronously as the process
 * exits: a line still being written at `process.exit` came out after the last one, which is then not last.
 */
export function endLog(logger: Logger, done: () => void): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { end?: () => void; once?: (event: string, listener: () => void) => void }
    | undefined;
  if (typeof stream?.end !== 'function' || typeof stream.once !== 'function') {
    done();
    return;
  }
  stream.once('close', done);
  try {
    stream.end();
  } catch {
    done();
  }
}

/** A logger that drops everything, for unit tests and CLI commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
