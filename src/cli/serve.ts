/**
 * `mcp-authz serve`: load and check the config, start the sidecar, and shut down gracefully on
 * SIGTERM/SIGINT (stop accepting, finish in-flight requests within `server.shutdownGraceMs`); a second
 * SIGINT exits at once (130), writing out the audit records already queued.
 *
 * @module
 */
import type { Command } from 'commander';
import { createSidecar } from '../app.js';
import { unknownEnvNames } from '../config/env.js';
import { loadConfig } from '../config/load.js';
import { secretIssues } from '../config/secrets.js';
import { ConfigError } from '../errors/errors.js';
import { TlsFilesError, tlsIssues } from '../server/tls.js';
import { redactLogMessage } from '../telemetry/log-secrets.js';
import { createLogger, endLog } from '../telemetry/logger.js';
import { oneLine } from './table.js';

/** The exit code of a forced stop by a second Ctrl-C: 128 + SIGINT, as a shell reports a process it killed. */
const EXIT_SIGINT = 130;
/**
 * What a stop may take beyond `server.shutdownGraceMs` before the process exits anyway: its own steps after
 * the grace (event streams ended, up to 1 s; the upstream pool closed, up to 1 s), then each component's stop
 * (the abuse counts, key usage and report counters flushed to Redis, a few store calls of up to
 * `store.commandTimeoutMs` each, and Redis closed). Past it something hangs; in a pod the kubelet's own kill
 * (`terminationGracePeriodSeconds`) usually comes first.
 */
const STOP_MARGIN_MS = 10_000;

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the sidecar in front of the upstream MCP server')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .action(async (opts: { config?: string }) => {
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig({ file: opts.config ?? program.opts<{ config?: string }>().config });
        const unreadable = [...secretIssues(config), ...tlsIssues(config)];
        if (unreadable.length) throw new ConfigError(unreadable);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`mcp-authz: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      const logger = createLogger(config.log.level);
      for (const name of unknownEnvNames(process.env)) {
        logger.warn({ variable: name }, 'unknown AUTHZ_* environment variable ignored (a typo?)');
      }
      let sidecar: ReturnType<typeof createSidecar>;
      try {
        sidecar = createSidecar(config, { logger });
      } catch (err) {
        // The certificate files changed for the worse since they were checked above.
        if (!(err instanceof TlsFilesError)) throw err;
        process.stderr.write(`mcp-authz: ${new ConfigError(err.issues).message}\n`);
        process.exit(1);
      }
      let stopping = false;
      /** Raised to 1 by an uncaught exception, also one during a shutdown already under way. */
      let exitCode: 0 | 1 = 0;
      /** Ends the shutdown delay now (set while it runs). */
      let endDelay: (() => void) | undefined;
      /**
       * `delayMs`: how long to keep serving with /readyz at 503 first (SIGTERM in a pod). Called again with 0
       * while the delay runs (an uncaught exception), it stops waiting: the stop and its grace start now.
       */
      const shutdown = (signal: string, delayMs: number) => {
        if (stopping) {
          if (delayMs === 0) endDelay?.();
          return;
        }
        stopping = true;
        logger.info({ signal, delayMs }, 'shutting down');
        sidecar.drain();
        const wait = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          endDelay = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wait
          .then(() => {
            // A stop that outlasts its grace (a dependency that never answers) must not keep the pod hanging
            // until Kubernetes kills it: exit on a deadline of our own.
            setTimeout(() => {
              logger.error({ signal }, 'shutdown did not finish in time; exiting');
              exitNotice(`shutdown after ${signal} did not finish in time; exiting`);
              process.exit(1);
            }, config.server.shutdownGraceMs + STOP_MARGIN_MS).unref();
            return sidecar.stop();
          })
          .then(
            () => {
              logger.info({ signal, exitCode }, 'stopped');
              endLog(logger, () => process.exit(exitCode));
            },
            (err: unknown) => {
              logger.error({ err: String(err) }, 'shutdown failed');
              exitNotice('shutdown failed', err);
              process.exit(1);
            },
          );
      };
      process.on('uncaughtException', (err) => {
        logger.fatal({ err: err.message, stack: err.stack }, 'uncaught exception; exiting');
        exitNotice('uncaught exception; exiting', err);
        // The process is in an unknown state: stop without the delay (also one under way: the stop's own
        // deadline then counts from now, and a drain still waiting would be cut by it) and exit 1 so it is
        // restarted.
        exitCode = 1;
        shutdown('uncaughtException', 0);
      });
      process.on('unhandledRejection', (err) => logger.error({ err: String(err) }, 'unhandled rejection'));
      process.on('SIGTERM', () => shutdown('SIGTERM', config.server.shutdownDelayMs));
      // Ctrl-C at a terminal: nobody routes to this process, no reason to wait. A second Ctrl-C does not wait
      // for a shutdown held up by requests in flight or a dependency still starting (Redis that does not answer).
      process.on('SIGINT', () => {
        if (!stopping) {
          shutdown('SIGINT', 0);
          return;
        }
        logger.warn('second SIGINT: exiting without waiting for the shutdown');
        // The audit records already queued are written (the log's stream flushes on exit); the requests
        // still in flight have none.
        sidecar.flushAudit();
        process.exit(EXIT_SIGINT);
      });
      try {
        await sidecar.start();
      } catch (err) {
        // A SIGTERM while starting (a pod deleted before it was ready): the stop closed what the start went
        // on to use. The shutdown under way ends the process, with its own exit code.
        if (stopping) {
          logger.debug({ err: (err as Error).message }, 'start cut short by the shutdown');
          return;
        }
        logger.fatal({ err: (err as Error).message }, 'failed to start');
        exitNotice('failed to start', err);
        await sidecar.stop().catch(() => undefined);
        process.exit(1);
      }
    });
}

/**
 * One line on stderr for a failure that ends the process with 1, besides its log line: the process log is
 * JSON on stdout and off at `log.level: silent`, where a failed start left only the exit code. Secrets the
 * message holds are redacted as the log redacts them, control characters shown (`oneLine`).
 */
function exitNotice(what: string, err?: unknown): void {
  const detail = err === undefined ? '' : `: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`mcp-authz: ${oneLine(String(redactLogMessage(`${what}${detail}`)))}\n`);
}
