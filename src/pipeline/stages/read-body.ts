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
    async run(ctx, signal) {
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
        ctx.body = await readLimited(ctx.req, maxBytes, signal);
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

function readLimited(req: NodeJS.ReadableStream, max: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      signal.removeEventListener('abort', onAbort);
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
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAbort = () => {
      cleanup();
      reject(new Error('client went away'));
    };
    if (signal.aborted || (req as NodeJS.ReadableStream & { destroyed?: boolean }).destroyed) {
      reject(new Error('client went away'));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
