import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { join } from 'node:path';
import type { Meter } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import {
  readTlsMaterial,
  TLS_HANDSHAKE_TIMEOUT_MS,
  type TlsConfig,
  TlsFilesError,
  tlsIssues,
  tlsServerOptions,
  watchTlsFiles,
} from '../../../src/server/tls.js';
import type { Logger } from '../../../src/telemetry/logger.js';
import { ROOT } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'tls');
const fixture = (name: string) => join(FIXTURES, `${name}.pem`);
const notAfter = (name: string): number =>
  Math.floor(Date.parse(new X509Certificate(readFileSync(fixture(name))).validTo) / 1000);

function files(cert = 'server', key = cert): TlsConfig {
  const dir = tempDir('tls-unit');
  const t = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), minVersion: 'TLSv1.2' as const };
  copyFileSync(fixture(cert), t.certFile);
  copyFileSync(fixture(`${key}-key`), t.keyFile);
  return t;
}

const issuesOf = (tls: TlsConfig): readonly string[] => {
  try {
    readTlsMaterial(tls);
    return [];
  } catch (err) {
    if (err instanceof TlsFilesError) return err.issues;
    throw err;
  }
};

afterEach(() => {
  vi.useRealTimers();
});

describe('the certificate set', () => {
  it('reads a matching certificate and key, and the client CA for mutual TLS', () => {
    const tls = { ...files(), clientCaFile: fixture('ca') };
    const o = tlsServerOptions(tls);
    expect(String(o.cert)).toContain('BEGIN CERTIFICATE');
    expect(String(o.ca)).toContain('BEGIN CERTIFICATE');
    expect(o).toMatchObject({
      minVersion: 'TLSv1.2',
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    });
    // Without a client CA no client certificate is asked for.
    expect(tlsServerOptions(files())).not.toHaveProperty('requestCert');
  });

  it('names every file that cannot be read, by its setting', () => {
    const dir = tempDir('tls-unit');
    const tls: TlsConfig = {
      certFile: join(dir, 'nope.crt'),
      keyFile: join(dir, 'nope.key'),
      clientCaFile: join(dir, 'nope-ca.crt'),
      minVersion: 'TLSv1.2',
    };
    expect(issuesOf(tls)).toEqual([
      `server.tls.certFile: ${tls.certFile} cannot be read (ENOENT)`,
      `server.tls.keyFile: ${tls.keyFile} cannot be read (ENOENT)`,
      `server.tls.clientCaFile: ${tls.clientCaFile} cannot be read (ENOENT)`,
    ]);
  });

  it('refuses a key that is not the certificate’s, and a file that is not PEM, without showing their bytes', () => {
    expect(issuesOf(files('server', 'server-renewed'))).toEqual([
      'server.tls: the key does not belong to the certificate',
    ]);
    const garbage = files();
    writeFileSync(garbage.keyFile, 'not a key at all\n');
    const [issue] = issuesOf(garbage);
    expect(issue).toBe(
      `server.tls.keyFile: ${garbage.keyFile} holds no unencrypted PEM private key, or one cut short`,
    );
    expect(issue).not.toContain('not a key at all');
    // The certificate where the key should be (tls.crt and tls.key mixed up), and the other way round.
    const swapped = files();
    writeFileSync(swapped.keyFile, readFileSync(fixture('server')));
    writeFileSync(swapped.certFile, readFileSync(fixture('server-key')));
    expect(issuesOf(swapped)).toEqual([
      `server.tls.certFile: ${swapped.certFile} holds no PEM certificate, or one cut short`,
      `server.tls.keyFile: ${swapped.keyFile} holds no unencrypted PEM private key, or one cut short`,
    ]);
  });

  it('refuses a client CA file holding no certificate (Node would take it and refuse every client)', () => {
    const dir = tempDir('tls-unit');
    const empty = join(dir, 'empty-ca.crt');
    writeFileSync(empty, '');
    const garbage = join(dir, 'garbage-ca.crt');
    writeFileSync(garbage, 'not a certificate\n');
    // A key where the CA should be (ca.crt and tls.key mixed up): no certificate either, and no bytes shown.
    const key = fixture('server-key');
    for (const clientCaFile of [empty, garbage, key]) {
      const issues = issuesOf({ ...files(), clientCaFile });
      expect(issues, clientCaFile).toEqual([
        `server.tls.clientCaFile: ${clientCaFile} holds no PEM certificate, or one cut short`,
      ]);
    }
    // A bundle of several CAs is fine; one read while it was being written (the second CA cut short) is not.
    const bundle = join(dir, 'bundle.crt');
    const whole = Buffer.concat([readFileSync(fixture('ca')), readFileSync(fixture('other-ca'))]);
    writeFileSync(bundle, whole);
    expect(issuesOf({ ...files(), clientCaFile: bundle })).toEqual([]);
    writeFileSync(bundle, whole.subarray(0, whole.length - 100));
    expect(issuesOf({ ...files(), clientCaFile: bundle })).toEqual([
      `server.tls.clientCaFile: ${bundle} holds no PEM certificate, or one cut short`,
    ]);
  });

  it('tlsIssues checks the configured set, and nothing when TLS is off', () => {
    const base = { upstream: { url: 'http://127.0.0.1:8081/mcp' } };
    expect(tlsIssues(parseConfig(base, {}))).toEqual([]);
    const broken = files('server', 'server-renewed');
    const config = parseConfig(
      { ...base, server: { tls: { certFile: broken.certFile, keyFile: broken.keyFile } } },
      {},
    );
    expect(config.server.tls?.minVersion).toBe('TLSv1.2');
    expect(tlsIssues(config)).toEqual(['server.tls: the key does not belong to the certificate']);
  });
});

describe('watchTlsFiles', () => {
  function setup(tls: TlsConfig) {
    const contexts: unknown[] = [];
    const server = { setSecureContext: (o: unknown) => contexts.push(o) } as unknown as HttpsServer;
    // The reload counter's series as a scrape shows them: present from the start, at 0.
    const counts: Record<string, number> = {};
    let gauge: ((r: { observe(v: number): void }) => void) | undefined;
    const meter = {
      createCounter: () => ({
        add: (n: number, a: { result: string }) => {
          counts[a.result] = (counts[a.result] ?? 0) + n;
        },
      }),
      createObservableGauge: () => ({ addCallback: (f: typeof gauge) => (gauge = f) }),
    } as unknown as Meter;
    const expiry = (): number[] => {
      const seen: number[] = [];
      gauge?.({ observe: (v) => seen.push(v) });
      return seen;
    };
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger = {
      warn: (f: { err: string }) => warnings.push(f.err),
      info: (_f: unknown, msg: string) => infos.push(msg),
    } as unknown as Logger;
    const stop = watchTlsFiles(server, tls, { logger, meter, pollIntervalMs: 1_000 });
    return { contexts, counts, warnings, infos, expiry, stop };
  }

  it('swaps in a changed set once it is whole, and reports a broken set while it stays broken (logged once)', () => {
    vi.useFakeTimers();
    const tls = files();
    const w = setup(tls);
    // Both series exist before anything happens: a failure series born at 1 shows no increase() in
    // Prometheus, and the alert on it would never fire.
    expect(w.counts).toEqual({ success: 0, failure: 0 });
    expect(w.expiry()).toEqual([notAfter('server')]);
    // The watcher serves the set it reports (see the next test); then nothing changes.
    expect(w.contexts).toHaveLength(1);
    vi.advanceTimersByTime(3_000);
    expect(w.contexts).toHaveLength(1);

    copyFileSync(fixture('server-renewed'), tls.certFile); // the key follows later
    vi.advanceTimersByTime(3_000);
    expect(w.contexts).toHaveLength(1);
    // Every poll that finds the set still broken counts (an alert on the counter holds while it lasts),
    // the log says it once.
    expect(w.counts).toEqual({ success: 0, failure: 3 });
    expect(w.warnings).toEqual(['server.tls: the key does not belong to the certificate']);

    copyFileSync(fixture('server-renewed-key'), tls.keyFile);
    vi.advanceTimersByTime(1_000);
    expect(w.contexts).toHaveLength(2);
    expect(String((w.contexts[1] as { cert: Buffer }).cert)).toBe(
      String(readFileSync(fixture('server-renewed'))),
    );
    expect(w.counts).toEqual({ success: 1, failure: 3 });
    expect(w.infos).toEqual(['TLS certificate files changed; new connections use them']);
    expect(w.expiry()).toEqual([notAfter('server-renewed')]);

    vi.advanceTimersByTime(3_000);
    expect(w.contexts).toHaveLength(2); // loaded once
    w.stop();
  });

  it('hands a changed client CA to the server with the rest of the set and the minimum version', () => {
    vi.useFakeTimers();
    const dir = tempDir('tls-unit');
    const tls = { ...files(), clientCaFile: join(dir, 'ca.crt'), minVersion: 'TLSv1.3' as const };
    copyFileSync(fixture('ca'), tls.clientCaFile);
    const w = setup(tls);
    copyFileSync(fixture('other-ca'), tls.clientCaFile); // the gateway's CA rotated
    vi.advanceTimersByTime(1_000);
    const served = w.contexts.at(-1) as { ca: Buffer; key: Buffer; minVersion: string };
    expect(String(served.ca)).toBe(String(readFileSync(fixture('other-ca'))));
    expect(served.key).toBeDefined();
    expect(served.minVersion).toBe('TLSv1.3');
    expect(w.counts).toEqual({ success: 1, failure: 0 });
    w.stop();
  });

  it('serves the set it reports when the files change between building the server and watching them', () => {
    vi.useFakeTimers();
    const tls = files();
    tlsServerOptions(tls); // the server is built from the first set…
    copyFileSync(fixture('server-renewed'), tls.certFile); // …and the Secret is renewed right then
    copyFileSync(fixture('server-renewed-key'), tls.keyFile);
    const w = setup(tls);
    vi.advanceTimersByTime(3_000);
    const served = w.contexts.at(-1) as { cert: Buffer } | undefined;
    expect(String(served?.cert)).toBe(String(readFileSync(fixture('server-renewed'))));
    expect(w.expiry()).toEqual([notAfter('server-renewed')]);
    expect(w.counts).toEqual({ success: 0, failure: 0 });
    w.stop();
  });
});
