import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BundlePersistence } from '../../../src/policy/bundle-persist.js';
import { tempDir } from '../../helpers/temp-dir.js';

const URL_A = 'https://bundles.example/a.tar.gz';

describe('BundlePersistence', () => {
  it('keeps the last bundle saved for its URL, replacing the one before, with nothing left half written', async () => {
    const dir = join(tempDir('persist-unit'), 'nested');
    const p = new BundlePersistence(dir, URL_A);
    expect(await p.read()).toEqual({ why: 'no copy has been kept yet' });
    await p.save(Buffer.from('first'), 'r1', new Date('2026-12-05T10:00:00Z'));
    await p.save(Buffer.from('second'), 'r2', new Date('2026-12-05T11:00:00Z'));
    const kept = await p.read();
    expect(kept).toMatchObject({
      file: join(dir, 'bundle.tar.gz'),
      meta: { revision: 'r2', savedAt: '2026-12-05T11:00:00.000Z' },
    });
    expect('bytes' in kept && kept.bytes.toString()).toBe('second');
    expect(readdirSync(dir).sort()).toEqual(['bundle.json', 'bundle.tar.gz']);
    // The URL is recorded only as a hash: it may carry credentials.
    expect(JSON.stringify(kept)).not.toContain('bundles.example');
  });

  it('does not hand out a copy of another URL, a description it cannot read, or a missing tarball', async () => {
    const dir = tempDir('persist-unit');
    await new BundlePersistence(dir, URL_A).save(Buffer.from('a'), 'r1');
    expect(await new BundlePersistence(dir, `${URL_A}?v=2`).read()).toEqual({
      why: 'the copy kept is of another bundle URL',
    });
    rmSync(join(dir, 'bundle.tar.gz'));
    expect(await new BundlePersistence(dir, URL_A).read()).toEqual({
      why: `${join(dir, 'bundle.tar.gz')} cannot be read (ENOENT)`,
    });
    writeFileSync(join(dir, 'bundle.json'), '{"location": 1}');
    expect(await new BundlePersistence(dir, URL_A).read()).toEqual({ why: 'its description cannot be read' });
  });
});
