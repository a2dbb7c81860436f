import { describe, expect, it } from 'vitest';
import { originStage } from '../../../../src/pipeline/stages/origin.js';
import { createCors } from '../../../../src/server/cors.js';
import { contextFor, fakeRequest, signal } from '../fake-request.js';

function run(allowed: readonly string[], origin?: string) {
  const headers = origin === undefined ? {} : { origin };
  return originStage(createCors(allowed)).run(contextFor(fakeRequest(headers)), signal);
}

describe('originStage', () => {
  it('is named origin', () => {
    expect(originStage(createCors([])).name).toBe('origin');
  });

  it('lets requests without Origin through, even with an empty allow list', () => {
    expect(run([])).toEqual({ kind: 'continue' });
  });

  it('lets an allowed origin through', () => {
    expect(run(['https://app.example.com'], 'https://app.example.com')).toEqual({ kind: 'continue' });
  });

  it('names an allowed origin in the CORS headers of the reply; no Origin, no CORS headers', () => {
    const stage = originStage(createCors(['https://app.example.com']));
    const ctx = contextFor(fakeRequest({ origin: 'https://app.example.com' }));
    expect(stage.run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.responseHeaders).toMatchObject({
      'access-control-allow-origin': 'https://app.example.com',
      vary: 'Origin',
    });
    expect(ctx.responseHeaders['access-control-expose-headers']).toContain('www-authenticate');
    const plain = contextFor(fakeRequest({}));
    stage.run(plain, signal);
    expect(plain.responseHeaders).toEqual({});
  });

  it('compares case-insensitively and ignores a trailing slash in the allow list', () => {
    expect(run(['HTTPS://App.Example.com/'], 'https://app.EXAMPLE.com')).toEqual({ kind: 'continue' });
  });

  it('allows any origin with *', () => {
    expect(run(['*'], 'https://evil.example')).toEqual({ kind: 'continue' });
  });

  it.each([
    [[], 'https://app.example.com'],
    [['https://app.example.com'], 'https://evil.example'],
    [['https://app.example.com'], 'http://app.example.com'],
    [['https://app.example.com'], 'https://app.example.com:8443'],
    [['https://app.example.com'], 'null'],
  ])('with %j denies Origin %s with 403 ERR_REQUEST_ORIGIN', (allowed, origin) => {
    const r = run(allowed, origin);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_ORIGIN', status: 403 } });
  });
});
