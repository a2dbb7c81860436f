/**
 * TLS on the public listener (`server.tls`): the certificate chain, its key and, for mutual TLS, the
 * client CA, read from files (a `kubernetes.io/tls` Secret mount) and re-read when they change. The files
 * are watched as one set: a renewal replaces certificate and key together (Kubernetes swaps the Secret's
 * `..data` symlink), and a set read half way through a change — a new certificate with the old key — is
 * refused by the check and read again at the next poll. A set that stays broken keeps the last good one
 * for new connections and is logged once per distinct problem. Connections already open keep the
 * context they shook hands with, as in Envoy's SDS rotation.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Meter } from '@opentelemetry/api';
import type { Config } from '../config/schema.js';
import { fileIdentity } from '../config/secrets.js';
import type { Logger } from '../telemetry/logger.js';

export type TlsConfig = NonNullable<Config['server']['tls']>;

/** How often the certificate files are checked for changes (as the secret files are). */
export const TLS_POLL_INTERVAL_MS = 1_000;
/** How long a client may take to finish the handshake (Node's default is 120 s: a slowloris lever). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** What a broken certificate set is: one line per problem, each naming the setting (no file contents). */
export class TlsFilesError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(issues.join('; '));
    this.name = 'TlsFilesError';
    this.issues = issues;
  }
}

type Material = Pick<ServerOptions, 'cert' | 'key' | 'ca'>;

const FILES = [
  ['certFile', 'cert'],
  ['keyFile', 'key'],
  ['clientCaFile', 'ca'],
] as const;

/**
 * Reads the set and checks that Node can build a context from it (the key matches the certificate, the
 * PEM parses); throws {@link TlsFilesError} otherwise. OpenSSL's reason is kept, never the bytes.
 */
export function readTlsMaterial(tls: TlsConfig): Material {
  const material: { cert?: Buffer; key?: Buffer; ca?: Buffer } = {};
  const issues: string[] = [];
  for (const [setting, field] of FILES) {
    const file = tls[setting];
    if (file === undefined) continue;
    try {
      material[field] = readFileSync(file);
    } catch (err) {
      issues.push(
        `server.tls.${setting}: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  // Each file on its own first, so the line names the file at fault (OpenSSL's own reason for a key that
  // is no key, `DECODER routines::unsupported`, names neither the file nor the problem).
  if (material.cert && !holdsCertificates(material.cert))
    issues.push(`server.tls.certFile: ${tls.certFile} holds no PEM certificate, or one cut short`);
  if (material.key && !holdsPrivateKey(material.key))
    issues.push(`server.tls.keyFile: ${tls.keyFile} holds no unencrypted PEM private key, or one cut short`);
  if (material.ca && !holdsCertificates(material.ca))
    issues.push(`server.tls.clientCaFile: ${tls.clientCaFile} holds no PEM certificate, or one cut short`);
  if (issues.length) throw new TlsFilesError(issues);
  try {
    createSecureContext({ ...material, minVersion: tls.minVersion });
  } catch (err) {
    throw new TlsFilesError([`server.tls: ${tlsReason(err)}`]);
  }
  return material;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/**
 * Whether `pem` holds at least one certificate, each whole. Node builds a context from a CA file without
 * any (empty, a key, a file cut short) and then verifies no client at all: every connection would be
 * refused instead of the last good set being kept.
 */
function holdsCertificates(pem: Buffer): boolean {
  const text = pem.toString('latin1');
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0 || blocks.length !== text.split('-----BEGIN CERTIFICATE-----').length - 1)
    return false;
  try {
    for (const b of blocks) new X509Certificate(b);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pem` holds a private key Node can use (PKCS#8, PKCS#1 or SEC1, without a passphrase). */
function holdsPrivateKey(pem: Buffer): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

function tlsReason(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const text = (e.message ?? String(err)).split('\n')[0] ?? '';
  if (/key values mismatch/i.test(text)) return 'the key does not belong to the certificate';
  if (/no start line|bad base64|PEM/i.test(text)) return `a file is not valid PEM (${text})`;
  return text;
}

/** When the leaf certificate (the first of the chain) of `material` expires, in Unix seconds; NaN if unknown. */
export function certificateExpiry(material: Material): number {
  try {
    return Math.floor(Date.parse(new X509Certificate(material.cert as Buffer).validTo) / 1000);
  } catch {
    return Number.NaN;
  }
}

/** The `https.createServer` options for `tls`, from its files now (throws {@link TlsFilesError}). */
export function tlsServerOptions(tls: TlsConfig): ServerOptions {
  return {
    ...readTlsMaterial(tls),
    minVersion: tls.minVersion,
    handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    ...(tls.clientCaFile ? { requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Problems `serve` reports before starting: unreadable files, a key that is not the certificate's. */
export function tlsIssues(config: Config): string[] {
  const tls = config.server.tls;
  if (!tls) return [];
  try {
    readTlsMaterial(tls);
    return [];
  } catch (err) {
    if (err instanceof TlsFilesError) return [...err.issues];
    throw err;
  }
}

export interface TlsWatchDeps {
  readonly logger: Logger;
  readonly meter: Meter;
  readonly pollIntervalMs?: number;
}

/**
 * Counts failed handshakes in `mcp_authz_tls_handshake_failures_total` and logs each at debug (without the
 * peer's bytes): with mutual TLS a gateway presenting the wrong certificate is refused before any request,
 * and without this it would leave no trace. Plain HTTP sent to the TLS port counts here too.
 */
export function countHandshakeFailures(
  server: HttpsServer,
  deps: Omit<TlsWatchDeps, 'pollIntervalMs'>,
): void {
  const failures = deps.meter.createCounter('mcp_authz_tls_handshake_failures_total', {
    description:
      'TLS handshakes on the public port that failed (no or an untrusted client certificate with server.tls.clientCaFile, plain HTTP, a protocol the listener refuses, a timeout).',
  });
  // A socket refused for its client certificate is gone when the error comes, and with it its address:
  // noted as each connection arrives (by the TCP socket the TLS socket wraps).
  const peers = new WeakMap<object, string | undefined>();
  server.on('connection', (raw: Socket) => peers.set(raw, raw.remoteAddress));
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
    failures.add(1);
    const parent = (socket as { _parent?: object })._parent;
    // A client certificate the CA did not sign ends the handshake as a hang-up (ECONNRESET): Node refuses
    // it after OpenSSL is done, and only `authorizationError` says why.
    const refused = (socket as { authorizationError?: unknown }).authorizationError;
    deps.logger.debug(
      {
        client_ip: socket.remoteAddress ?? (parent ? peers.get(parent) : undefined),
        code: err.code,
        err: err.message.split('\n')[0],
        ...(refused ? { authorization_error: String(refused) } : {}),
      },
      'TLS handshake failed',
    );
    // The https server then destroys the socket itself (no `clientError` listener is registered).
  });
}

/**
 * Polls the files of `tls` and gives `server` a new secure context when they change and form a good set.
 * Counts reloads in `mcp_authz_tls_reloads_total{result}` (a failure at every poll while the changed set
 * cannot be used) and exports when the certificate in use expires
 * (`mcp_authz_tls_certificate_expiry_timestamp_seconds`: a renewal that never comes shows there first).
 * Returns the function that stops polling.
 */
export function watchTlsFiles(server: HttpsServer, tls: TlsConfig, deps: TlsWatchDeps): () => void {
  const reloads = deps.meter.createCounter('mcp_authz_tls_reloads_total', {
    description:
      'Reloads of the public listener certificate set after its files changed, by result (success; failure, every check while the changed set stays unusable: the last good set is kept).',
  });
  // Both series from the start: one born at 1 has no increase() in Prometheus (the alert would never fire).
  for (const result of ['success', 'failure']) reloads.add(0, { result });
  let expiry = Number.NaN;
  deps.meter
    .createObservableGauge('mcp_authz_tls_certificate_expiry_timestamp_seconds', {
      description:
        'When the certificate the public listener serves expires (notAfter of the leaf), Unix seconds.',
    })
    .addCallback((r) => {
      if (Number.isFinite(expiry)) r.observe(expiry);
    });
  const files = FILES.map(([setting]) => tls[setting]).filter((f): f is string => f !== undefined);
  const identity = (): string =>
    files
      .map((f) => {
        try {
          return fileIdentity(f);
        } catch (err) {
          return (err as NodeJS.ErrnoException).code ?? 'error';
        }
      })
      .join('|');
  // The server was built from an earlier read: a renewal in between would be taken as loaded and never
  // served (while the gauge showed its expiry). So the set is read again after noting what it is, and
  // served: context, identity and expiry all come from the one read. A failure is retried at the first poll.
  /** Reads the set and serves it (throws TlsFilesError, the set in use unchanged). */
  const serve = (): void => {
    const material = readTlsMaterial(tls);
    server.setSecureContext({ ...material, minVersion: tls.minVersion });
    expiry = certificateExpiry(material);
  };
  let loaded = identity();
  try {
    serve();
  } catch {
    loaded = '';
  }
  let problem: string | null = null;
  const check = (): void => {
    const now = identity();
    if (now === loaded) return;
    try {
      serve();
      loaded = now;
      problem = null;
      reloads.add(1, { result: 'success' });
      deps.logger.info({ files }, 'TLS certificate files changed; new connections use them');
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      // Tried again at every poll until the set is whole, and counted each time, so that the failure
      // series keeps rising while the set stays broken; logged once per distinct problem.
      reloads.add(1, { result: 'failure' });
      if (text !== problem) {
        deps.logger.warn(
          { files, err: text },
          'TLS certificate files changed but cannot be used; keeping the last good set',
        );
      }
      problem = text;
    }
  };
  const timer = setInterval(check, deps.pollIntervalMs ?? TLS_POLL_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
