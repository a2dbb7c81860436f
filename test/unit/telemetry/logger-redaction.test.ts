/**
 * The process logger's redaction (src/telemetry/logger.ts), the second line of defence: each secret field
 * name at the top level and one level down, and the credential headers of a logged request.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { createLogger, SECRET_FIELDS } from '../../../src/telemetry/logger.js';
import { lineCollector } from '../../helpers/log-lines.js';

describe('createLogger redaction', () => {
  it('never writes a secret-named field, at the top or one level down, nor credential headers', () => {
    const raw: string[] = [];
    const logger = createLogger('info', lineCollector(raw));
    const secret = (where: string) => `SECRET-${where}-0b5e`;
    for (const f of ['authorization', 'token', 'apiKey', 'secret', 'password']) {
      expect(SECRET_FIELDS).toContain(f);
      logger.info({ [f]: secret(`top-${f}`) }, 'top');
      logger.info({ err: { [f]: secret(`nested-${f}`) } }, 'nested');
    }
    logger.info(
      {
        headers: {
          authorization: secret('h-authz'),
          'x-api-key': secret('h-key'),
          cookie: secret('h-cookie'),
          accept: 'text/event-stream',
        },
      },
      'request',
    );
    const text = raw.join('');
    expect(text).not.toMatch(/SECRET-/);
    expect(text).toContain('text/event-stream');
    expect(text.match(/\[redacted\]/g)).toHaveLength(13);
  });
});
