/**
 * Reads a POST body under the size limit: `Content-Type` must be JSON (415), and a body over
 * `server.maxBodyBytes` is refused (413) without reading the rest.
 *
 * @module
 */
import { RequestError } from '../../errors/errors.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function readBodyStage(maxBytes: number): Stage {
  return {
    name: 'read-body',
    async run(ctx) {
      const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        return deny(
          new RequestError(
            'ERR_REQUEST_CONTENT_TYPE',
            `Unsupported Media Type: expected application/json, got ${type || 'none'}`,
          ),
        );
      }
      const declared = Number(ctx.req.headers['content-length'] ?? Number.NaN);
      if (declared > maxBytes) return deny(tooLarge(maxBytes));
      try {
        ctx.body = await readLimited(ctx.req, maxBytes);
        return CONTINUE;
      } catch (err) {
        if (err instanceof RequestError) return deny(err);
        throw err;
      }
    },
  };
}

function tooLarge(max: number): RequestError {
  return new RequestError('ERR_REQUEST_TOO_LARGE', `Payload Too Large: the body exceeds ${max} bytes`);
}

/**
 * The body, or a rejection: too large, a stream error, or the client gone before the end (`close` before
 * `end`; watching the request itself is cheaper than an abort listener on the request's signal).
 */
function readLimited(req: NodeJS.ReadableStream, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        req.pause();
        reject(tooLarge(max));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('client went away'));
    };
    if ((req as NodeJS.ReadableStream & { destroyed?: boolean }).destroyed) {
      reject(new Error('client went away'));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
