/**
 * One RFC 7662 introspection request and its answer, read within bounds: the token POSTed as a form with the
 * sidecar's client credentials (form-encoded Basic, RFC 6749 §2.3.1), no redirects, the whole exchange body
 * included within the timeout, at most 16 KiB of answer nested at most 64 levels, checked against the
 * response's shape. Every failure is a 503 (`ERR_AUTHN_UNAVAILABLE`) naming its cause, never the token.
 *
 * @module
 */
import { z } from 'zod';
import { AuthnError } from '../errors/errors.js';
import { MAX_CLAIM_DEPTH, nestedWithin } from './claims.js';

/** The most of an introspection answer that is read; a larger one is refused. */
export const MAX_ANSWER_BYTES = 16 * 1024;

/** The deepest nesting of arrays and objects an introspection answer may have (as a JWT's claims). */
export const MAX_ANSWER_DEPTH = MAX_CLAIM_DEPTH;

export interface IntrospectionEndpoint {
  readonly endpoint: string;
  readonly clientId: string;
  /** The client secret, read when each request is made (a rotated Secret is used at once). */
  readonly clientSecret: () => Buffer | null;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
}

/** RFC 7662 §2.2: `active` is required; the rest is read where present (other members are kept as claims). */
const AnswerSchema = z.looseObject({
  active: z.boolean(),
  exp: z.number().optional(),
  nbf: z.number().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  iss: z.string().optional(),
  token_type: z.string().optional(),
});

export type IntrospectionAnswer = z.infer<typeof AnswerSchema>;

export const unavailable = (message: string, cause?: unknown) =>
  new AuthnError('ERR_AUTHN_UNAVAILABLE', message, cause === undefined ? {} : { cause });
/** A request that threw (network, timeout, while connecting or reading the body). */
const failed = (err: unknown) =>
  unavailable(`token introspection ${(err as Error)?.name === 'TimeoutError' ? 'timed out' : 'failed'}`, err);

/** One introspection request; every way it can fail is a 503 naming the cause (never the token). */
export async function introspect(token: string, o: IntrospectionEndpoint): Promise<IntrospectionAnswer> {
  const secret = o.clientSecret();
  if (!secret || secret.length === 0) throw unavailable('token introspection has no client secret');
  const credentials = `${formEncode(o.clientId)}:${formEncode(secret.toString('utf8'))}`;
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(o.endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal: AbortSignal.timeout(o.timeoutMs),
      // A redirect would carry the token and the sidecar's credentials somewhere else.
      redirect: 'error',
    });
  } catch (err) {
    throw failed(err);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw unavailable(
      `the introspection endpoint refused the sidecar's client credentials (HTTP ${res.status})`,
    );
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw unavailable(`the introspection endpoint answered HTTP ${res.status}`);
  }
  // The timeout covers the body too (it aborts the stream), and the connection may break off while it
  // is read: both are the endpoint's failure (503), not an internal error.
  let text: string;
  try {
    text = await readLimited(res);
  } catch (err) {
    throw err instanceof AuthnError ? err : failed(err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw unavailable('the introspection endpoint answered no JSON', err);
  }
  // Its members become the principal's claims, which are walked recursively (frozen, mapped, serialised):
  // nesting that deep would overflow the stack there.
  if (!nestedWithin(json, MAX_ANSWER_DEPTH)) {
    throw unavailable(
      `the introspection endpoint answered JSON nested deeper than ${MAX_ANSWER_DEPTH} levels`,
    );
  }
  const parsed = AnswerSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw unavailable(
      `the introspection endpoint answered no introspection response (${issue?.path.join('.') || 'root'}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

/** `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1 asks for client credentials. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

async function readLimited(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw unavailable(`the introspection answer is over ${MAX_ANSWER_BYTES} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw unavailable(`the introspection answer is over ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
