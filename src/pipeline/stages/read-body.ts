/**
 * Reads a POST body under the size limit: `Content-Type` must be JSON in UTF-8 without a content coding
 * (415), and a body over `server.maxBodyBytes` is refused (413) without reading the rest; one that would take
 * the bodies being read past `server.maxBufferedBodyBytes` gets 503. A client that sent `Expect: 100-continue`
 * is told to send its body only once these checks (and every stage before) passed.
 *
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connectionClosed, RequestError } from '../../errors/errors.js';
import type { RequestContext } from '../context.js';
import { continueBody } from '../expect-continue.js';
import { CONTINUE, deny, type Stage, type StageResult } from '../stage.js';

/**
 * The bytes of request bodies being read, all connections together (`server.maxBufferedBodyBytes`): a body is
 * held whole until decided, so many connections trickling in large bodies would otherwise hold their sum.
 */
export class BodyBudget {
  readonly #max: number;
  #used = 0;

  /** `max` 0: no bound. */
  constructor(max: number) {
    this.#max = max;
  }

  /** Takes `n` bytes; false (nothing taken) when they would pass the bound. */
  take(n: number): boolean {
    if (this.#max > 0 && this.#used + n > this.#max) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used -= n;
  }

  /** Bytes taken now (tests, status). */
  get used(): number {
    return this.#used;
  }
}

export function readBodyStage(maxBytes: number, budget: BodyBudget = new BodyBudget(0)): Stage {
  return {
    name: 'read-body',
    run(ctx) {
      const unsupported = unsupportedMedia(ctx.req.headers);
      if (unsupported) return deny(new RequestError('ERR_REQUEST_CONTENT_TYPE', unsupported));
      const declared = Number(ctx.req.headers['content-length'] ?? Number.NaN);
      if (declared > maxBytes) return deny(tooLarge(maxBytes));
      // A declared length is taken whole before the client is told to send it; a chunked body as it comes.
      const upFront = Number.isFinite(declared) ? declared : 0;
      if (!budget.take(upFront)) return deny(busy());
      continueBody(ctx.req);
      return readLimited(ctx, maxBytes, budget, upFront);
    },
  };
}

/**
 * Why the body's media type is refused, or undefined when it is `application/json` in UTF-8 without a
 * content coding. The sidecar decides on the body read as UTF-8 and forwards the same bytes with the
 * client's headers, so a body the upstream would read differently must not pass: a charset such as
 * `utf-7` or `utf-16` (the MCP SDK's express.json() decodes any `utf-*`), or a `gzip` / `br` / `deflate`
 * body (inflated upstream, opaque here).
 */
function unsupportedMedia(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['content-type'] ?? '';
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    return `Unsupported Media Type: Content-Encoding ${encoding} is not accepted; send the body uncompressed`;
  }
  if (header === 'application/json') return undefined;
  const [type = '', ...params] = header.split(';');
  const media = type.trim().toLowerCase();
  if (media !== 'application/json') {
    return `Unsupported Media Type: expected application/json, got ${media || 'none'}`;
  }
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    // Only the registered name: the MCP SDK's express.json() refuses `utf8` (it wants `utf-…`).
    if (charset !== 'utf-8') {
      return `Unsupported Media Type: charset ${charset || '(empty)'} is not accepted; JSON bodies must be UTF-8`;
    }
  }
  return undefined;
}

function busy(): RequestError {
  return new RequestError(
    'ERR_SERVER_BUSY',
    'Service Unavailable: too many request bodies are being read at once; retry shortly',
    { headers: { 'retry-after': '1' } },
  );
}

function tooLarge(max: number): RequestError {
  return new RequestError('ERR_REQUEST_TOO_LARGE', `Payload Too Large: the body exceeds ${max} bytes`);
}

/**
 * The client gone before the body was read, or Node's HTTP server refusing it (`connectionClosed`): its body,
 * or, the request having arrived whole (`complete`: an earlier stage waited, a JWKS fetch or a session lookup,
 * while Node closed the connection), a malformed request pipelined behind it.
 */
const closed = (req: IncomingMessage): RequestError => connectionClosed(req, 'before the body had arrived');

/**
 * Reads the body into `ctx.body`. Too large, over the budget, a stream error, or the client gone before the end
 * (`close` before `end`; watching the request itself is cheaper than an abort listener on the request's
 * signal): a typed denial, answered (if anyone listens) and finished like any other (audit record, metrics),
 * not an unexpected error. One promise, settled by the request's events (no `async`, no `finally`: each
 * costs promises of its own on every call).
 */
function readLimited(
  ctx: RequestContext,
  max: number,
  budget: BodyBudget,
  upFront: number,
): Promise<StageResult> {
  const req = ctx.req;
  /** Bytes of the budget this body holds: given back once it is read, refused or abandoned. */
  let held = upFront;
  return new Promise<StageResult>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    /** Stops listening, gives the budget back and answers with `result`. */
    const settle = (result: StageResult) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
      budget.give(held);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        settle(deny(tooLarge(max)));
        return;
      }
      // Beyond what was declared (a chunked body): taken as it comes.
      if (size > held) {
        if (!budget.take(size - held)) {
          req.pause();
          settle(deny(busy()));
          return;
        }
        held = size;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      ctx.body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      settle(CONTINUE);
    };
    // A request stream errs only when the connection breaks (`aborted`, a reset, Node's own refusal).
    const onGone = () => settle(deny(closed(req)));
    if (req.destroyed) {
      budget.give(held);
      resolve(deny(closed(req)));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}
