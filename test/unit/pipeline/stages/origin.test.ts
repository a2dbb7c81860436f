import { describe, expect, it } from 'vitest';
import { originStage } from '../../../../src/pipeline/stages/origin.js';
import { contextFor, fakeRequest, signal } from '../fake-request.js';

function run(allowed: readonly string[], origin?: string) {
  const headers = origin === undefined ? {} : { origin };
  return originStage(allowed).run(contextFor(fakeRequest(headers)), signal);
}

describe('originStage', () => {
  it('is named origin', () => {
    expect(originStage([]).name).toBe('origin');
  });

  it('lets requests without Origin through, even with an empty allow list', () => {
    expect(run([])).toEqual({ kind: 'continue' });
  });

  it('lets an allowed origin through', () => {
    expect(run(['https://app.example.com'], 'https://app.example.com')).toEqual({ kind: 'continue' });
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
