/**
 * A real JWKS endpoint for tests: a `node:http` server on a free loopback port serving
 * `/.well-known/jwks.json` (and an OpenID discovery document) from jose-generated keys. `sign()` mints
 * tokens with the current key; `rotate()` replaces the served key set (new kid) as an issuer would;
 * `setFailure()` makes the endpoint answer 500 or hang, and `stop()` takes it down. Usable by unit,
 * integration and end-to-end tests alike.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';

export type JwksAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface JwksServerOptions {
  readonly alg?: JwksAlg;
  readonly kid?: string;
  /** Defaults to the server's base URL. */
  readonly issuer?: string;
}

export interface SignOptions {
  readonly alg?: JwksAlg;
  /**
   * Header kid; null leaves it out. Defaults to the current key's kid. A kid this server made before
   * (e.g. retired by `rotate()`) also signs with that key.
   */
  readonly kid?: string | null;
  /** Header typ; null leaves it out. Defaults to `at+jwt`. */
  readonly typ?: string | null;
  /** Lifetime in seconds when `claims.exp` is not given (default 300). */
  readonly expiresInSec?: number;
  /** "Now" in epoch seconds for the default iat/exp. */
  readonly nowSec?: number;
  /** Skip the default iss/iat/exp/jti claims. */
  readonly bare?: boolean;
  /** Sign with a key that is not served (for "unknown key" cases). */
  readonly unservedKey?: boolean;
}

export interface JwksServer {
  /** The JWKS URI. */
  readonly url: string;
  readonly issuer: string;
  /** The current signing key id. */
  readonly kid: string;
  /** JWKS fetches served so far. */
  readonly requests: number;
  /** Mints a JWT: defaults iss, iat, exp, jti; `claims` override them (an `undefined` value removes one). */
  sign(claims?: Record<string, unknown>, opts?: SignOptions): Promise<string>;
  /** New key pair and kid; the served JWKS is replaced (or extended with `keepPrevious`). */
  rotate(opts?: { alg?: JwksAlg; kid?: string; keepPrevious?: boolean }): Promise<{ kid: string }>;
  /** The current public key as SPKI PEM (for key-confusion tests). */
  publicKeyPem(): Promise<string>;
  /** 'none' serves normally; 'error' answers 500; 'hang' never answers. */
  setFailure(mode: 'none' | 'error' | 'hang'): void;
  stop(): Promise<void>;
}

interface KeyPair {
  readonly kid: string;
  readonly alg: JwksAlg;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

async function makeKey(alg: JwksAlg, kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export async function startJwksServer(options: JwksServerOptions = {}): Promise<JwksServer> {
  let current = await makeKey(options.alg ?? 'RS256', options.kid ?? `k-${randomUUID().slice(0, 8)}`);
  let served: KeyPair[] = [current];
  const made = new Map<string, KeyPair>([[current.kid, current]]);
  let failure: 'none' | 'error' | 'hang' = 'none';
  let requests = 0;
  const base = { issuer: '', url: '' };

  const server: Server = createServer((req, res) => {
    if (failure === 'hang') return;
    if (failure === 'error') {
      res.writeHead(500).end('boom');
      return;
    }
    if (req.url === '/.well-known/jwks.json') {
      requests++;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: served.map((k) => k.jwk) }));
    } else if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: base.issuer, jwks_uri: base.url }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  base.issuer = options.issuer ?? origin;
  base.url = `${origin}/.well-known/jwks.json`;

  return {
    get url() {
      return base.url;
    },
    get issuer() {
      return base.issuer;
    },
    get kid() {
      return current.kid;
    },
    get requests() {
      return requests;
    },
    async sign(claims = {}, opts = {}) {
      const key = opts.unservedKey
        ? await makeKey(opts.alg ?? current.alg, opts.kid ?? `unserved-${randomUUID().slice(0, 8)}`)
        : ((opts.kid ? made.get(opts.kid) : undefined) ?? current);
      const now = opts.nowSec ?? Math.floor(Date.now() / 1000);
      const defaults: JWTPayload = opts.bare
        ? {}
        : { iss: base.issuer, iat: now, exp: now + (opts.expiresInSec ?? 300), jti: randomUUID() };
      const payload: Record<string, unknown> = { ...defaults, ...claims };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const kid = opts.kid === null ? undefined : (opts.kid ?? key.kid);
      const typ = opts.typ === null ? undefined : (opts.typ ?? 'at+jwt');
      return new SignJWT(payload as JWTPayload)
        .setProtectedHeader({ alg: opts.alg ?? key.alg, ...(kid ? { kid } : {}), ...(typ ? { typ } : {}) })
        .sign(key.privateKey);
    },
    async rotate(opts = {}) {
      const next = await makeKey(opts.alg ?? current.alg, opts.kid ?? `k-${randomUUID().slice(0, 8)}`);
      made.set(next.kid, next);
      served = opts.keepPrevious ? [...served, next] : [next];
      current = next;
      return { kid: next.kid };
    },
    publicKeyPem: () => exportSPKI(current.publicKey),
    setFailure(mode) {
      failure = mode;
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
