/**
 * Field types shared by the config schema's sections.
 *
 * @module
 */
import { z } from 'zod';

export const port = z.number().int().min(0).max(65_535);
/** The longest timer Node runs as asked (2^31 − 1 ms, about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;
const timerMax = [
  MAX_TIMER_MS,
  'at most 2147483647 ms (about 24.8 days): Node fires a longer timer at once',
] as const;
export const positiveMs = z
  .number()
  .int()
  .positive()
  .max(...timerMax);
/** A duration in ms where 0 turns the feature off. */
export const msOrOff = z
  .number()
  .int()
  .min(0)
  .max(...timerMax);
export const httpUrl = z.url({ protocol: /^https?$/ });

/** Headers that frame or route a message, or are hop-by-hop: never a header the sidecar sets or reads a key from. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'authorization',
  'cookie',
]);

/** Any HTTP header name (RFC 9110 token), lower-cased. */
export const anyHeaderName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not an HTTP header name (letters, digits and -, no spaces)')
  .toLowerCase();

/** An HTTP header name (RFC 9110 token), lower-cased; framing, hop-by-hop and credential headers refused. */
export const headerName = anyHeaderName.refine((h) => !RESERVED_HEADERS.has(h), {
  message: `must not be one of ${[...RESERVED_HEADERS].join(', ')}`,
});

/** An http(s) URL without a user or password in it; `why` ends the message of one that has them. */
export const httpUrlWithoutCredentialsFor = (why: string) =>
  httpUrl.refine(
    (u) => {
      // Refinements run even when the URL check failed: that failure is the one to report.
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      return url.username === '' && url.password === '';
    },
    { message: `must not hold a user or password (${why})` },
  );

/** An http(s) URL without a user or password in it (the upstream's). */
export const httpUrlWithoutCredentials = httpUrlWithoutCredentialsFor(
  'the sidecar sends none to the upstream',
);

/** The JWS algorithms accepted for JWTs and bundle signatures (never `none`). */
export const JwsAlgorithm = z.enum([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
]);

/** An OAuth scope token (RFC 6749 §3.3: printable ASCII without space, `"` or `\`), at most 128 long. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

export const ScopeToken = z
  .string()
  .regex(SCOPE_TOKEN, 'an OAuth scope token (printable ASCII, no space, " or \\)');
