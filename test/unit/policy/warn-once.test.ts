import { describe, expect, it } from 'vitest';
import { MAX_WARNED, WarnOnce } from '../../../src/policy/warn-once.js';
import { createLogger } from '../../../src/telemetry/logger.js';

function logged() {
  const lines: { level: string; msg: string; revision: string; err?: string }[] = [];
  const logger = createLogger('warn', { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { lines, warned: new WarnOnce(logger, 'r1') };
}

describe('WarnOnce', () => {
  it('says each text once, with the revision and the given fields', () => {
    const { lines, warned } = logged();
    for (let i = 0; i < 3; i++) warned.say('visible', 'evaluation_error: boom', { err: 'boom' });
    warned.say('obligation', 'obligation "x" is unknown');
    expect(lines).toMatchObject([
      { level: 'error', msg: 'policy visibility evaluation failed', revision: 'r1', err: 'boom' },
      { level: 'warn', msg: 'policy decision: obligation "x" is unknown', revision: 'r1' },
    ]);
  });

  it('bounds each kind apart, and says once when a kind stops', () => {
    const { lines, warned } = logged();
    for (let i = 0; i < MAX_WARNED + 50; i++) warned.say('visible', `evaluation_error: ${i}`);
    expect(lines).toHaveLength(MAX_WARNED + 1);
    expect(lines.at(-1)?.msg).toBe(
      'policy: 100 different visibility evaluation failures logged for this revision; further ones are not logged',
    );
    // The other kind still has its own budget.
    warned.say('obligation', 'obligation "x" is unknown');
    expect(lines).toHaveLength(MAX_WARNED + 2);
  });
});
