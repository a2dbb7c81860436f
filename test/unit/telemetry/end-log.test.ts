/**
 * `endLog`: the log's asynchronous stream ends once every line written to it is out, so the line written last
 * before the process exits comes out last.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, endLog, silentLogger } from '../../../src/telemetry/logger.js';
import { tempDir } from '../../helpers/temp-dir.js';

describe('endLog', () => {
  it('calls back once every line written to an asynchronous stream is out, in order', async () => {
    const file = join(tempDir('end-log'), 'log.jsonl');
    const logger = createLogger('info', pino.destination({ dest: file, sync: false }));
    for (let i = 0; i < 500; i++) logger.info({ i }, 'line');
    logger.info('stopped');
    await new Promise<void>((resolve) => endLog(logger, resolve));
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(501);
    expect(JSON.parse(lines.at(-1) ?? '{}')).toMatchObject({ msg: 'stopped' });
  });

  it('calls back at once for a stream that cannot be ended', async () => {
    await new Promise<void>((resolve) => endLog(silentLogger(), resolve));
  });
});
