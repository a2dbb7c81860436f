import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import {
  createSecretSource,
  openSecret,
  type SecretSource,
  secretIssues,
} from '../../../src/config/secrets.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { lineCollector } from '../../helpers/log-lines.js';
import { tempDir } from '../../helpers/temp-dir.js';

const opened: SecretSource[] = [];
function open(file: string | undefined, env: NodeJS.ProcessEnv = {}): SecretSource {
  const s = createSecretSource({
    name: 'test',
    file,
    envVar: 'AUTHZ_API_KEY_PEPPER',
    env,
    pollIntervalMs: 20,
  });
  opened.push(s);
  return s;
}
const text = (s: SecretSource) => s.get()?.toString('utf8') ?? null;

describe('SecretSource', () => {
  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
  });

  it('reads a file and trims exactly one trailing newline', () => {
    const dir = tempDir('secret');
    writeFileSync(join(dir, 'a'), 'value\n\n');
    writeFileSync(join(dir, 'b'), 'value\r\n');
    writeFileSync(join(dir, 'c'), ' value ');
    expect(text(open(join(dir, 'a')))).toBe('value\n');
    expect(text(open(join(dir, 'b')))).toBe('value');
    expect(text(open(join(dir, 'c')))).toBe(' value ');
  });

  it('prefers the file to the environment variable', () => {
    const dir = tempDir('secret');
    writeFileSync(join(dir, 's'), 'from-file');
    const s = open(join(dir, 's'), { AUTHZ_API_KEY_PEPPER: 'from-env' });
    expect(text(s)).toBe('from-file');
    expect(s.origin()).toBe('file');
  });

  it('falls back to the variable, and to null', () => {
    expect(text(open(undefined, { AUTHZ_API_KEY_PEPPER: 'from-env' }))).toBe('from-env');
    expect(open(undefined, { AUTHZ_API_KEY_PEPPER: '' }).get()).toBeNull();
    expect(open('/nonexistent/secret').origin()).toBe('none');
  });

  it('re-reads a changed file on demand', () => {
    const dir = tempDir('secret');
    const file = join(dir, 's');
    writeFileSync(file, 'one');
    const s = open(file);
    writeFileSync(file, 'two-longer');
    expect(s.refresh()?.toString()).toBe('two-longer');
  });

  it('follows a Kubernetes-style ..data symlink swap by polling', async () => {
    const dir = tempDir('secret');
    mkdirSync(join(dir, 'v1'));
    writeFileSync(join(dir, 'v1', 'pepper'), 'old\n');
    symlinkSync('v1', join(dir, '..data'));
    symlinkSync(join('..data', 'pepper'), join(dir, 'pepper'));
    const s = open(join(dir, 'pepper'));
    expect(text(s)).toBe('old');

    mkdirSync(join(dir, 'v2'));
    writeFileSync(join(dir, 'v2', 'pepper'), 'new\n');
    symlinkSync('v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, 'v1'), { recursive: true });

    const deadline = Date.now() + 2_000;
    while (text(s) !== 'new' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(text(s)).toBe('new');
  });

  it('keeps the last good value while the file is briefly missing', () => {
    const dir = tempDir('secret');
    const file = join(dir, 's');
    writeFileSync(file, 'kept');
    const s = open(file);
    rmSync(file);
    expect(s.refresh()?.toString()).toBe('kept');
  });

  it('keeps the previous report token or pepper when its file is rotated to one under 16 bytes, and says so', () => {
    const dir = tempDir('secret');
    const file = join(dir, 'token');
    writeFileSync(file, 'a-report-token-of-some-length\n');
    const lines: string[] = [];
    const config = parseConfig({ admin: { reportTokenFile: file } }, {});
    const token = openSecret(config, 'adminReportToken', {
      env: {},
      logger: createLogger('debug', lineCollector(lines) as never),
    });
    opened.push(token);
    writeFileSync(file, 'hunter2\n');
    expect(token.refresh()?.toString()).toBe('a-report-token-of-some-length');
    expect(lines.join('')).toContain('secret file holds too short a value; the previous one is kept');
    expect(lines.join('')).not.toContain('hunter2');
    writeFileSync(file, 'another-report-token-long-enough');
    expect(token.refresh()?.toString()).toBe('another-report-token-long-enough');
  });

  it('takes a rotated pepper of exactly 16 bytes and keeps the last one for 15 (the bound, not near it)', () => {
    const dir = tempDir('secret');
    const file = join(dir, 'pepper');
    writeFileSync(file, 'a-pepper-of-some-length\n');
    const config = parseConfig({ authn: { apiKeys: { pepperFile: file } } }, {});
    const pepper = openSecret(config, 'apiKeyPepper', { env: {} });
    opened.push(pepper);
    writeFileSync(file, `${'p'.repeat(15)}\n`);
    expect(pepper.refresh()?.toString()).toBe('a-pepper-of-some-length');
    writeFileSync(file, 'q'.repeat(16));
    expect(pepper.refresh()?.toString()).toBe('q'.repeat(16));
  });

  it('keeps the last pepper or report token when its file is emptied, as for any value under 16 bytes', () => {
    // A rewrite in place (`echo "$NEW" > pepper`) empties the file for a moment, and a Secret made from an
    // unset variable is empty: either dropped the pepper, refusing every API key (503) until the file held one.
    const dir = tempDir('secret');
    const file = join(dir, 'pepper');
    writeFileSync(file, 'a-pepper-of-some-length\n');
    const lines: string[] = [];
    const config = parseConfig({ authn: { apiKeys: { pepperFile: file } } }, {});
    const pepper = openSecret(config, 'apiKeyPepper', {
      env: { AUTHZ_API_KEY_PEPPER: 'the-variable-of-some-length' },
      logger: createLogger('debug', lineCollector(lines) as never),
    });
    opened.push(pepper);
    writeFileSync(file, '');
    expect(pepper.refresh()?.toString()).toBe('a-pepper-of-some-length');
    expect(pepper.origin()).toBe('file');
    expect(lines.join('')).toContain('secret file holds too short a value; the previous one is kept');
    writeFileSync(file, 'another-pepper-long-enough\n');
    expect(pepper.refresh()?.toString()).toBe('another-pepper-long-enough');
    // A secret without a least length (the Redis password): an empty file still gives none.
    writeFileSync(join(dir, 'pw'), 'redis-pw');
    const pw = createSecretSource({
      name: 'pw',
      file: join(dir, 'pw'),
      envVar: 'AUTHZ_REDIS_PASSWORD',
      env: {},
    });
    opened.push(pw);
    writeFileSync(join(dir, 'pw'), '');
    expect(pw.refresh()).toBeNull();
  });

  it('opens the configured secrets by name', () => {
    const dir = tempDir('secret');
    writeFileSync(join(dir, 'pw'), 'redis-pw\n');
    const config = parseConfig({ store: { passwordFile: join(dir, 'pw') } }, {});
    const pw = openSecret(config, 'redisPassword', { env: { AUTHZ_REDIS_PASSWORD: 'env-pw' } });
    opened.push(pw);
    expect(text(pw)).toBe('redis-pw');
    const hs = openSecret(parseConfig({}, {}), 'jwtHsSecret', {
      env: { AUTHZ_JWT_HS_SECRET: 'x'.repeat(32) },
    });
    opened.push(hs);
    expect(text(hs)).toBe('x'.repeat(32));
  });
});

describe('configured secret files at start', () => {
  it('lists a secret file serve would use that cannot be read, with the setting, file and cause', () => {
    const dir = tempDir('secret');
    const missing = join(dir, 'pepper');
    const config = parseConfig({ authn: { apiKeys: { pepperFile: missing } } }, {});
    expect(secretIssues(config, {})).toEqual([
      `authn.apiKeys.pepperFile: ${missing} cannot be read (ENOENT)`,
    ]);
    // The variable is the fallback when the file cannot be read.
    expect(secretIssues(config, { AUTHZ_API_KEY_PEPPER: 'p'.repeat(16) })).toEqual([]);
    writeFileSync(missing, 'pepper-value-0123456789');
    expect(secretIssues(config, {})).toEqual([]);
  });

  it('refuses a pepper or report token under 16 bytes, from its file or its variable', () => {
    const dir = tempDir('secret');
    const pepper = join(dir, 'pepper');
    const token = join(dir, 'token');
    writeFileSync(pepper, 'short\n');
    writeFileSync(token, 'x'.repeat(15));
    const files = parseConfig(
      { authn: { apiKeys: { pepperFile: pepper } }, admin: { reportTokenFile: token } },
      {},
    );
    expect(secretIssues(files, {})).toEqual([
      'authn.apiKeys.pepperFile: must be at least 16 bytes (has 5); e.g. openssl rand -hex 32',
      'admin.reportTokenFile: must be at least 16 bytes (has 15); e.g. openssl rand -hex 32',
    ]);
    const env = parseConfig({}, {});
    expect(secretIssues(env, { AUTHZ_API_KEY_PEPPER: 'p', AUTHZ_ADMIN_REPORT_TOKEN: 'hunter2' })).toEqual([
      'AUTHZ_API_KEY_PEPPER: must be at least 16 bytes (has 1); e.g. openssl rand -hex 32',
      'AUTHZ_ADMIN_REPORT_TOKEN: must be at least 16 bytes (has 7); e.g. openssl rand -hex 32',
    ]);
    // A file with a value wins over the variable, as the sidecar reads them; an empty one does not.
    writeFileSync(pepper, 'p'.repeat(16));
    writeFileSync(token, '');
    expect(secretIssues(files, { AUTHZ_ADMIN_REPORT_TOKEN: 't'.repeat(16) })).toEqual([]);
    // The file is the value used, so it is the one checked: a long variable does not pass a short file.
    writeFileSync(pepper, 'short');
    expect(
      secretIssues(files, { AUTHZ_API_KEY_PEPPER: 'p'.repeat(32), AUTHZ_ADMIN_REPORT_TOKEN: 't'.repeat(16) }),
    ).toEqual(['authn.apiKeys.pepperFile: must be at least 16 bytes (has 5); e.g. openssl rand -hex 32']);
    // API keys off: the pepper is not used.
    const off = parseConfig({ authn: { apiKeys: { enabled: false } } }, {});
    expect(secretIssues(off, { AUTHZ_API_KEY_PEPPER: 'p' })).toEqual([]);
  });

  it('refuses an empty pepper or report token file with no variable, as the 0 bytes it holds', () => {
    // A Secret made from an unset variable (`--from-literal=pepper="$PEPPER"`): the file is there and empty.
    // Refused as a short one is, not taken as "no pepper set" (every key refused, yet the pod ready).
    const dir = tempDir('secret');
    const pepper = join(dir, 'pepper');
    const token = join(dir, 'token');
    writeFileSync(pepper, '\n');
    writeFileSync(token, '');
    const files = parseConfig(
      { authn: { apiKeys: { pepperFile: pepper } }, admin: { reportTokenFile: token } },
      {},
    );
    expect(secretIssues(files, {})).toEqual([
      `authn.apiKeys.pepperFile: ${pepper} is empty (and AUTHZ_API_KEY_PEPPER is not set)`,
      `admin.reportTokenFile: ${token} is empty (and AUTHZ_ADMIN_REPORT_TOKEN is not set)`,
    ]);
    // No file named: nothing is set, which is no mistake (API keys then refused, /report off).
    expect(secretIssues(parseConfig({}, {}), {})).toEqual([]);
  });

  it('checks the bundle verification key file only when policy.verification is set', () => {
    const missing = join(tempDir('secret'), 'bundle-key.pem');
    expect(secretIssues(parseConfig({}, {}), {})).toEqual([]);
    const config = parseConfig({ policy: { verification: { keyFile: missing } } }, {});
    expect(secretIssues(config, {})).toEqual([
      `policy.verification.keyFile: ${missing} cannot be read (ENOENT)`,
    ]);
    expect(secretIssues(config, { AUTHZ_BUNDLE_VERIFICATION_KEY: 'k' })).toEqual([]);
  });

  it('ignores the files of features that are off', () => {
    const config = parseConfig(
      {
        authn: { apiKeys: { enabled: false, pepperFile: '/nonexistent/pepper' } },
        store: { passwordFile: '/nonexistent/redis-password' },
      },
      {},
    );
    expect(secretIssues(config, {})).toEqual([]);
  });

  it('names the secret (not its value) when a file turns unreadable', () => {
    const dir = tempDir('secret');
    const file = join(dir, 's');
    writeFileSync(file, 'hunter2-value');
    const lines: string[] = [];
    const s = createSecretSource({
      name: 'apiKeyPepper',
      file,
      envVar: 'AUTHZ_API_KEY_PEPPER',
      env: {},
      logger: createLogger('info', { write: (l: string) => void lines.push(l) }),
    });
    rmSync(file);
    s.refresh();
    s.close();
    const line = lines.find((l) => l.includes('secret file cannot be read')) ?? '';
    expect(JSON.parse(line)).toMatchObject({ secret_name: 'apiKeyPepper', problem: 'ENOENT' });
    expect(lines.join('')).not.toContain('hunter2');
  });
});
