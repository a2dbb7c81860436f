/**
 * `mcp-authz serve`: load and check the config, start the sidecar, and shut down gracefully on
 * SIGTERM/SIGINT (stop accepting, finish in-flight requests within `server.shutdownGraceMs`).
 *
 * @module
 */
import type { Command } from 'commander';
import { createSidecar } from '../app.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors/errors.js';
import { createLogger } from '../telemetry/logger.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the sidecar in front of the upstream MCP server')
    .option('-c, --config <file>', 'YAML config file (default: $AUTHZ_CONFIG)')
    .action(async (opts: { config?: string }) => {
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig({ file: opts.config ?? program.opts<{ config?: string }>().config });
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`mcp-authz: ${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      const logger = createLogger(config.log.level);
      const sidecar = createSidecar(config, { logger });
      process.on('uncaughtException', (err) =>
        logger.fatal({ err: err.message, stack: err.stack }, 'uncaught exception'),
      );
      process.on('unhandledRejection', (err) => logger.error({ err: String(err) }, 'unhandled rejection'));
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        sidecar.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err: String(err) }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      try {
        await sidecar.start();
      } catch (err) {
        logger.fatal({ err: (err as Error).message }, 'failed to start');
        await sidecar.stop().catch(() => undefined);
        process.exit(1);
      }
    });
}
