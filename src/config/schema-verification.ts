/**
 * `policy.verification`: OPA-compatible bundle signature verification (what `bundles[_].signing` and
 * `keys` configure in OPA). Unset: bundles are not checked. Set: only a bundle whose `.signatures.json`
 * verifies with the key is loaded (src/policy/bundle-signature.ts).
 *
 * @module
 */

import { z } from 'zod';
import { compileGlob } from '../go-glob.js';
import * as D from './defaults.js';
import { JwsAlgorithm } from './schema-common.js';

/** The JWS algorithms OPA 1.x signs and verifies bundles with (no EdDSA: OPA cannot sign with it). */
const SigningAlgorithmSchema = JwsAlgorithm.exclude(['EdDSA']);
export type SigningAlgorithm = z.infer<typeof SigningAlgorithmSchema>;

export const BundleVerificationSchema = z
  .strictObject({
    keyFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding the PEM public key (RS*, PS*, ES*) or the HMAC secret (HS*, at least 32 bytes) the bundle must be signed with, e.g. a Kubernetes Secret mount; re-read when it changes (AUTHZ_BUNDLE_VERIFICATION_KEY works too).',
      ),
    algorithm: SigningAlgorithmSchema.default(D.POLICY_VERIFICATION_ALGORITHM).describe(
      "The JWS algorithm of the signature (OPA's `keys.<id>.algorithm`); another is refused.",
    ),
    keyId: z
      .string()
      .min(1)
      .default(D.POLICY_VERIFICATION_KEY_ID)
      .describe(
        "The key's id (OPA's `signing.keyid`): a signature naming another `kid` is refused; one naming none is checked with this key. `opa build --signing-key` writes `default`.",
      ),
    scope: z
      .string()
      .default('')
      .describe("The `scope` claim the signature must carry (OPA's `signing.scope`); empty: none."),
    excludeFiles: z
      .array(
        z
          .string()
          .min(1)
          .refine(
            (glob) => compileGlob(glob) !== null,
            "is no glob Go's filepath.Match reads (a trailing \\, an unclosed [ class, or one that is empty or starts or ends with -)",
          ),
      )
      .default([])
      .describe(
        "Files left out of the check (OPA's `signing.exclude_files`, globs as Go's filepath.Match: `*` stops at `/`).",
      ),
  })
  .optional()
  .describe(
    'Require bundles signed as `opa build --signing-key` signs them. A bundle without a `.signatures.json`, or whose signature or file hashes do not verify, is refused: the last good revision stays, and /readyz reports the failure.',
  );
