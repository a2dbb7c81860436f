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
import { createLogger, endLog } from '../../../src/telemetry/logger.js';
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

  it('calls back at once for a stream that cannot be ended', () => {
    // A destination with nothing but write() (as a test's line collector): no end(), no 'close' to wait for.
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    logger.info('stopped');
    let calls = 0;
    endLog(logger, () => calls++);
    expect(calls).toBe(1);
    expect(lines).toHaveLength(1);
  });
});
