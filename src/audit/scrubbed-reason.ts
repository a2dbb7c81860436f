/**
 * A policy's reason as the audit record, the decision span (`mcp_authz.reason`) and the security report keep
 * it. A policy may quote what the caller sent (`token eyJ… is revoked`, `key ghp_… belongs to another tenant`),
 * so its secrets are found by value as in kept arguments (`secret-values.ts`), then the secrets of the URIs it
 * names are redacted as in `resource.name` (`uri-secrets.ts`, `REDACTED`). Only the first
 * {@link SCRUB_WINDOW} characters are scanned, and only they are kept: nothing unscanned is written. The
 * denied caller's JSON-RPC error is not this: it carries the reasons as the policy wrote them.
 *
 * @module
 */
import { headOf } from '../cut-text.js';
import { SCRUB_WINDOW } from './mask.js';
import { scrubSecretValue } from './secret-values.js';
import { redactUriSecrets } from './uri-secrets.js';

/**
 * `reason` with its secrets redacted (see the module comment), its first {@link SCRUB_WINDOW} characters and
 * `…` when longer. Redacted before any cut: cut first, a password could lose the `@` that marks it.
 */
export function scrubbedReason(reason: string): string {
  const head = headOf(reason, SCRUB_WINDOW);
  const clean = redactUriSecrets(scrubSecretValue(head));
  return head.length < reason.length ? `${clean}…` : clean;
}
