/**
 * Bundle signature verification as OPA does it (`bundles[_].signing`, OPA v1/bundle/verify.go): the
 * bundle's `.signatures.json` holds exactly one JWS, signed with the configured key and algorithm, whose
 * payload lists every file of the bundle with its hash. A bundle passes when the token verifies, its key id
 * (header `kid`, else the deprecated `keyid` claim) is the configured one, its `scope` claim equals the
 * configured scope, every file but `.signatures.json` and the excluded ones is listed with a matching hash,
 * and every listed file is present. `data.json`, `.manifest` and `signatures.json` files are hashed in the
 * canonical JSON form OPA uses (canonical-json.ts), other files as bytes.
 *
 * Stricter than OPA where OPA is lax: a bundle without `.signatures.json` is refused whatever the key id
 * setting; the header `alg` must be the configured algorithm; an HS* secret that is a PEM key is refused;
 * MD5 and SHA-1 file hashes are refused; a `data.yaml` (which OPA hashes as parsed YAML) is refused. Like
 * OPA, `exp`/`nbf`/`iat` are not checked.
 *
 * @module
 */

import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, importSPKI } from 'jose';
import { z } from 'zod';
import type { SigningAlgorithm } from '../config/schema-verification.js';
import { globMatch } from '../go-glob.js';
import { BundleError } from './bundle.js';
import { canonicalJson } from './canonical-json.js';

export const SIGNATURES_FILE = '.signatures.json';

/** Shortest HMAC secret accepted (RFC 7518 asks for at least the hash size; 32 bytes for HS256). */
export const MIN_HMAC_SECRET_BYTES = 32;

export interface BundleVerification {
  readonly algorithm: SigningAlgorithm;
  /** The public key (PEM, SPKI) or the HMAC secret, read now (a Secret mount may have been rotated). */
  readonly key: () => Buffer | null;
  readonly keyId: string;
  readonly scope: string;
  /** Globs (Go `filepath.Match`) of files not checked: they need not be listed, nor match when listed. */
  readonly excludeFiles: readonly string[];
}

const SignaturesSchema = z.object({
  signatures: z.array(z.string()).default([]),
  plugin: z.string().optional(),
});

const PayloadSchema = z.object({
  files: z.array(z.object({ name: z.string(), hash: z.string(), algorithm: z.string() })).default([]),
  keyid: z.string().optional(),
  scope: z.string().optional(),
});

const HASHES: Readonly<Record<string, string>> = {
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512-224': 'sha512-224',
  'SHA-512-256': 'sha512-256',
};

/**
 * Checks the signature of a bundle given as all its files (path without a leading `/` → content).
 * Throws a `BundleError` (not transient) naming the first problem. Returns the files as they were checked,
 * to be loaded: a checked `data.json` or `.manifest` in the canonical form that was hashed, since texts that
 * differ in what a JSON parser gives (a lone surrogate escape, which hashes as U+FFFD; a duplicate key so
 * made) can hash alike.
 */
export async function verifyBundle(
  files: ReadonlyMap<string, Buffer>,
  v: BundleVerification,
  source: string,
): Promise<Map<string, Buffer>> {
  const fail = (why: string, cause?: unknown): never => {
    throw new BundleError(`bundle ${source}: signature check failed: ${why}`, { cause });
  };
  const raw = files.get(SIGNATURES_FILE);
  if (!raw) return fail(`no ${SIGNATURES_FILE} (policy.verification requires a signed bundle)`);
  let sigs: z.infer<typeof SignaturesSchema>;
  try {
    sigs = SignaturesSchema.parse(JSON.parse(raw.toString('utf8')));
  } catch (err) {
    return fail(`${SIGNATURES_FILE} is not a signatures file`, err);
  }
  if (sigs.plugin !== undefined && sigs.plugin !== '_default')
    fail(`${SIGNATURES_FILE} names the signing plugin ${sigs.plugin}, which is not supported`);
  const [token, ...more] = sigs.signatures;
  if (token === undefined || more.length > 0)
    fail(`${SIGNATURES_FILE} must hold exactly one JWT (has ${sigs.signatures.length})`);
  const signed = await checkToken(token as string, v, fail);
  const checked = new Map(files);
  for (const [path, content] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (path === SIGNATURES_FILE) continue;
    if (v.excludeFiles.some((glob) => globMatch(glob, path))) {
      signed.delete(path);
      continue;
    }
    const entry = signed.get(path);
    if (!entry) fail(`file ${path} is not included in the bundle signature`);
    const { hash, algorithm } = entry as { hash: string; algorithm: string };
    const node = HASHES[algorithm];
    if (!node) fail(`file ${path}: hash algorithm ${algorithm || '(none)'} is not accepted`);
    const hashed = isStructured(path) ? structured(path, content, fail) : content;
    const actual = createHash(node as string)
      .update(hashed)
      .digest('hex');
    if (actual !== hash.toLowerCase()) fail(`file ${path}: digest mismatch (want ${hash}, got ${actual})`);
    checked.set(path, hashed);
    signed.delete(path);
  }
  if (signed.size > 0)
    fail(`file(s) ${[...signed.keys()].join(', ')} are in the bundle signature but not in the bundle`);
  return checked;
}

type Fail = (why: string, cause?: unknown) => never;

/** Verifies the JWS and its key id and scope; returns the signed files by name (a later entry wins). */
async function checkToken(token: string, v: BundleVerification, fail: Fail) {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (err) {
    return fail('the JWT is malformed', err);
  }
  if (header.alg !== v.algorithm)
    fail(`the JWT is signed with ${String(header.alg)}, policy.verification.algorithm is ${v.algorithm}`);
  const keyBytes = v.key();
  if (!keyBytes) return fail('the verification key (policy.verification.keyFile) cannot be read');
  if (v.algorithm.startsWith('HS') && keyBytes.length < MIN_HMAC_SECRET_BYTES)
    fail(`the ${v.algorithm} secret is shorter than ${MIN_HMAC_SECRET_BYTES} bytes`);
  // A public key given as an HMAC secret (algorithm left at HS* while the key file is the public PEM) lets
  // anyone who has the public key sign bundles.
  if (
    v.algorithm.startsWith('HS') &&
    /-----BEGIN [A-Z0-9 ]*(?:KEY|CERTIFICATE)-----/.test(keyBytes.toString('latin1'))
  )
    fail(`the ${v.algorithm} secret is a PEM key or certificate (RS*/PS*/ES* verify with a public key)`);
  let payloadBytes: Uint8Array;
  if (v.algorithm.startsWith('PS')) payloadBytes = verifyPss(token, keyBytes, v.algorithm, fail);
  else {
    let key: Awaited<ReturnType<typeof importSPKI>> | Uint8Array;
    try {
      key = v.algorithm.startsWith('HS')
        ? new Uint8Array(keyBytes)
        : await importSPKI(keyBytes.toString('utf8'), v.algorithm);
    } catch (err) {
      return fail(`the verification key is not a ${v.algorithm} public key in PEM (SPKI)`, err);
    }
    try {
      ({ payload: payloadBytes } = await compactVerify(token, key, { algorithms: [v.algorithm] }));
    } catch (err) {
      if (key instanceof Uint8Array && (await signedWithLineBreak(token, key, v.algorithm))) {
        return fail(
          'the JWT was signed with the secret followed by a line break (a key file written with echo: the sidecar drops one trailing newline, opa build signs with the bytes as they are); sign with a file written by printf %s',
          err,
        );
      }
      return fail(`the JWT does not verify with the configured key (${(err as Error).message})`, err);
    }
  }
  let payload: z.infer<typeof PayloadSchema>;
  try {
    payload = PayloadSchema.parse(JSON.parse(Buffer.from(payloadBytes).toString('utf8')));
  } catch (err) {
    return fail('the JWT payload is not a bundle signature', err);
  }
  const kid = (typeof header.kid === 'string' && header.kid) || payload.keyid || v.keyId;
  if (kid !== v.keyId) fail(`the JWT names key id ${kid}, policy.verification.keyId is ${v.keyId}`);
  if ((payload.scope ?? '') !== v.scope)
    fail(
      `scope mismatch (the JWT has ${JSON.stringify(payload.scope ?? '')}, expected ${JSON.stringify(v.scope)})`,
    );
  return new Map(payload.files.map((f) => [f.name, f] as const));
}

/**
 * PS256/384/512 as OPA (Go's crypto/rsa) signs them: with the longest salt the key allows
 * (PSSSaltLengthAuto), which jose (WebCrypto: salt = hash length) refuses; Go's verifier, and this one,
 * accept any salt length.
 */
function verifyPss(token: string, keyBytes: Buffer, alg: SigningAlgorithm, fail: Fail): Uint8Array {
  const parts = token.split('.');
  if (parts.length !== 3) return fail('the JWT is malformed');
  const [header, payload, signature] = parts as [string, string, string];
  let key: KeyObject;
  try {
    key = createPublicKey(keyBytes);
  } catch (err) {
    return fail(`the verification key is not a ${alg} public key in PEM (SPKI)`, err);
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss')
    fail(`the verification key is not a ${alg} public key in PEM (SPKI)`);
  // As jose requires of RS* keys.
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) fail(`the ${alg} key is shorter than 2048 bits`);
  const ok = cryptoVerify(
    `sha${alg.slice(2)}`,
    Buffer.from(`${header}.${payload}`),
    { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
    Buffer.from(signature, 'base64url'),
  );
  if (!ok) fail('the JWT does not verify with the configured key (signature verification failed)');
  return Buffer.from(payload, 'base64url');
}

/** Whether the JWT verifies with `secret` plus the trailing newline the secret file lost (diagnosis only). */
async function signedWithLineBreak(token: string, secret: Uint8Array, alg: string): Promise<boolean> {
  const withBreak = new Uint8Array([...secret, 0x0a]);
  return compactVerify(token, withBreak, { algorithms: [alg] }).then(
    () => true,
    () => false,
  );
}

/** OPA's IsStructuredDoc: these files are hashed as parsed JSON, in canonical form. */
function isStructured(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === 'data.json' || base === 'data.yaml' || base === 'signatures.json' || base === '.manifest';
}

function structured(path: string, content: Buffer, fail: Fail): Buffer {
  if (path.endsWith('data.yaml')) return fail(`file ${path}: YAML data is not supported in signed bundles`);
  try {
    return canonicalJson(content);
  } catch (err) {
    return fail(`file ${path} is not valid JSON: ${(err as Error).message}`, err);
  }
}
