/**
 * A tiny local token issuer for the demo and the integration tests — DEVELOPMENT ONLY. It makes a fresh
 * signing key at start (ES256 by default, RS256 on request), serves the public key at
 * `/.well-known/jwks.json` and minimal RFC 8414 metadata at `/.well-known/oauth-authorization-server`,
 * and mints RFC 9068 style access tokens (`typ: at+jwt`). `POST /token` mints a token for whatever
 * subject, roles and tenant the caller asks for, with no authentication at all: it exists so a demo can
 * get tokens with curl, and must never be reachable from outside the machine.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { z } from 'zod';

export type DevIssuerAlg = 'ES256' | 'RS256';

export interface DevIssuerOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** The `aud` of minted tokens: the protected resource's URL. */
  audience: string;
  /** Signing algorithm; default ES256. */
  alg?: DevIssuerAlg;
  /**
   * Dotted claim path of the roles, as `authn.jwt.claims.roles` names it: default `roles`;
   * `realm_access.roles` mints them where Keycloak puts realm roles.
   */
  rolesClaim?: string;
}

export interface MintClaims {
  sub: string;
  roles: string[];
  tenant?: string;
  /** Space-separated OAuth scopes. */
  scope?: string;
  clearance?: string;
  /** jose duration (`'1h'`, `'-5m'` for an already expired token) or absolute epoch seconds; default 1 h. */
  expiresIn?: string | number;
  /** Overrides the issuer's audience, e.g. to test a token meant for another resource. */
  audience?: string;
  /** RFC 9068 `client_id`; default {@link DEV_CLIENT_ID}. */
  clientId?: string;
}

export interface DevIssuer {
  /** `iss` of minted tokens and base URL of the issuer, e.g. `http://127.0.0.1:41235`. */
  readonly issuer: string;
  readonly jwksUri: string;
  /** Dev-only `POST` endpoint that mints a token from a JSON body of {@link MintClaims}. */
  readonly tokenEndpoint: string;
  readonly audience: string;
  readonly kid: string;
  readonly alg: DevIssuerAlg;
  mint(claims: MintClaims): Promise<string>;
  close(): Promise<void>;
}

export const DEV_CLIENT_ID = 'mcp-authz-dev';
export const DEFAULT_TOKEN_LIFETIME = '1h';
const TOKEN_LIFETIME_SECONDS = 3_600;
const MAX_BODY_BYTES = 16 * 1024;

const MintRequestSchema = z.strictObject({
  sub: z.string().min(1),
  roles: z.array(z.string()).default([]),
  tenant: z.string().optional(),
  scope: z.string().optional(),
  clearance: z.string().optional(),
  expiresIn: z.union([z.string(), z.number()]).optional(),
  audience: z.string().optional(),
  clientId: z.string().optional(),
});

/** Starts the issuer and resolves once it listens. */
export async function startDevIssuer(opts: DevIssuerOptions): Promise<DevIssuer> {
  const alg = opts.alg ?? 'ES256';
  const host = opts.host ?? '127.0.0.1';
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const publicJwk: JWK = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = { keys: [{ ...publicJwk, kid, alg, use: 'sig' }] };

  let issuer = '';
  const mint = async (claims: MintClaims): Promise<string> => {
    const extra: Record<string, unknown> = { client_id: claims.clientId ?? DEV_CLIENT_ID };
    const path = (opts.rolesClaim ?? 'roles').split('.');
    let at = extra;
    for (const key of path.slice(0, -1)) {
      at[key] = {};
      at = at[key] as Record<string, unknown>;
    }
    at[path[path.length - 1] as string] = claims.roles;
    if (claims.tenant !== undefined) extra.tenant = claims.tenant;
    if (claims.scope !== undefined) extra.scope = claims.scope;
    if (claims.clearance !== undefined) extra.clearance = claims.clearance;
    return new SignJWT(extra)
      .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(claims.audience ?? opts.audience)
      .setSubject(claims.sub)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(claims.expiresIn ?? DEFAULT_TOKEN_LIFETIME)
      .sign(privateKey);
  };

  const http = createServer((req, res) => {
    route(req, res).catch(() => send(res, 500, { error: 'server_error' }));
  });
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/.well-known/jwks.json') return send(res, 200, jwks);
    if (req.method === 'GET' && path === '/.well-known/oauth-authorization-server') {
      // RFC 8414 metadata, kept honest: no authorization or token endpoint is offered, so none is listed.
      // `dev_token_endpoint` is a non-standard extension (RFC 8414 §2 allows additional parameters).
      return send(res, 200, {
        issuer,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        response_types_supported: [],
        grant_types_supported: [],
        dev_token_endpoint: `${issuer}/token`,
      });
    }
    if (req.method === 'POST' && path === '/token') {
      const parsed = MintRequestSchema.safeParse(await readJson(req));
      if (!parsed.success) {
        return send(res, 400, { error: 'invalid_request', error_description: z.prettifyError(parsed.error) });
      }
      const accessToken = await mint(parsed.data);
      return send(res, 200, {
        access_token: accessToken,
        token_type: 'Bearer',
        ...(parsed.data.expiresIn === undefined && { expires_in: TOKEN_LIFETIME_SECONDS }),
      });
    }
    return send(res, 404, { error: 'not_found' });
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    tokenEndpoint: `${issuer}/token`,
    audience: opts.audience,
    kid,
    alg,
    mint,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
