import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BodyBudget, readBodyStage } from '../../../../src/pipeline/stages/read-body.js';
import { contextFor, fakeRequest, signal } from '../fake-request.js';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('readBodyStage', () => {
  it('is named read-body', () => {
    expect(readBodyStage(10).name).toBe('read-body');
  });

  it('reads the whole body into ctx.body', async () => {
    const ctx = contextFor(fakeRequest(JSON_TYPE, ['{"jsonrpc":', '"2.0"}']));
    expect(await readBodyStage(1024).run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.body?.toString()).toBe('{"jsonrpc":"2.0"}');
  });

  it('reads an empty body as an empty buffer', async () => {
    const ctx = contextFor(fakeRequest(JSON_TYPE, []));
    expect(await readBodyStage(1024).run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.body).toEqual(Buffer.alloc(0));
  });

  it.each([
    'application/json; charset=utf-8',
    'Application/JSON',
    ' application/json ;charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/json; charset=utf-8; profile=x',
  ])('accepts Content-Type %j', async (type) => {
    const ctx = contextFor(fakeRequest({ 'content-type': type }, ['{}']));
    expect(await readBodyStage(1024).run(ctx, signal)).toEqual({ kind: 'continue' });
  });

  it.each([
    undefined,
    '',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json-seq',
    'text/json',
  ])('refuses Content-Type %j with 415 without reading the body', async (type) => {
    const headers = type === undefined ? {} : { 'content-type': type };
    const ctx = contextFor(fakeRequest(headers, ['{}']));
    const r = await readBodyStage(1024).run(ctx, signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_CONTENT_TYPE', status: 415 } });
    expect(ctx.body).toBeUndefined();
  });

  // The upstream decodes these differently from the UTF-8 the decision was made on (a policy bypass: in
  // UTF-7, `+ACI-` is a quote, so a body read here as a call of `echo` ran `delete_customer` upstream).
  it.each([
    [{ 'content-type': 'application/json; charset=utf-7' }, /charset utf-7 is not accepted/],
    // Not the registered name, and the MCP SDK's express.json() refuses it (its upstream would answer 500).
    [{ 'content-type': 'application/json; charset=utf8' }, /charset utf8 is not accepted/],
    [{ 'content-type': 'application/json; charset=UTF-16LE' }, /charset utf-16le is not accepted/],
    [{ 'content-type': 'application/json; charset=' }, /charset \(empty\) is not accepted/],
    // Parameter names are case-insensitive (RFC 9110): express.json() reads `Charset=` as the charset too.
    [{ 'content-type': 'application/json; Charset=utf-16' }, /charset utf-16 is not accepted/],
    [{ 'content-type': 'application/json', 'content-encoding': 'gzip' }, /Content-Encoding gzip/],
    [{ 'content-type': 'application/json', 'content-encoding': 'br' }, /Content-Encoding br/],
  ])('refuses %j with 415 and says why', async (headers, message) => {
    const ctx = contextFor(fakeRequest(headers, ['{}']));
    const r = await readBodyStage(1024).run(ctx, signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_CONTENT_TYPE', status: 415 } });
    expect((r as { error: Error }).error.message).toMatch(message);
    expect(ctx.body).toBeUndefined();
  });

  it('accepts Content-Encoding identity', async () => {
    const ctx = contextFor(fakeRequest({ ...JSON_TYPE, 'content-encoding': 'identity' }, ['{}']));
    expect(await readBodyStage(1024).run(ctx, signal)).toEqual({ kind: 'continue' });
  });

  it('refuses a declared Content-Length over the limit with 413 before reading', async () => {
    let read = false;
    const req = Object.assign(
      new Readable({
        read() {
          read = true;
          this.push(null);
        },
      }),
      { headers: { ...JSON_TYPE, 'content-length': '11' } },
    ) as unknown as IncomingMessage;
    const r = await readBodyStage(10).run(contextFor(req), signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_TOO_LARGE', status: 413 } });
    expect(read).toBe(false);
  });

  it('refuses a streamed body that grows over the limit with 413', async () => {
    const ctx = contextFor(fakeRequest(JSON_TYPE, ['123456', '789012']));
    const r = await readBodyStage(10).run(ctx, signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_TOO_LARGE', status: 413 } });
    expect(ctx.body).toBeUndefined();
  });

  it('refuses a body whose Content-Length understates its size', async () => {
    const ctx = contextFor(fakeRequest({ ...JSON_TYPE, 'content-length': '2' }, ['{"a":"0123456789"}']));
    const r = await readBodyStage(10).run(ctx, signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_TOO_LARGE' } });
  });

  it('accepts a body of exactly the limit', async () => {
    const ctx = contextFor(fakeRequest({ ...JSON_TYPE, 'content-length': '10' }, ['12345', '67890']));
    expect(await readBodyStage(10).run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.body?.length).toBe(10);
  });

  it('refuses a streamed body one byte over the limit (no Content-Length)', async () => {
    const ctx = contextFor(fakeRequest(JSON_TYPE, ['12345', '678901']));
    const r = await readBodyStage(10).run(ctx, signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_TOO_LARGE', status: 413 } });
  });

  it('counts bytes, not characters', async () => {
    const ctx = contextFor(fakeRequest(JSON_TYPE, ['"ééééé"'])); // 7 characters, 12 bytes
    const r = await readBodyStage(10).run(ctx, signal);
    expect(r).toMatchObject({ kind: 'deny', error: { code: 'ERR_REQUEST_TOO_LARGE' } });
  });

  const clientClosed = { kind: 'deny', error: { code: 'ERR_CLIENT_CLOSED', status: 499 } };

  it('denies with ERR_CLIENT_CLOSED (499) when the client goes away mid-body', async () => {
    const req = Object.assign(new Readable({ read() {} }), {
      headers: JSON_TYPE,
    }) as unknown as IncomingMessage;
    const pending = readBodyStage(1024).run(contextFor(req), signal);
    (req as unknown as Readable).push('{"jsonrpc":');
    // A socket closing mid-body destroys the request: `close` comes without `end`.
    (req as unknown as Readable).destroy();
    expect(await pending).toMatchObject(clientClosed);
  });

  it('denies the same way when the request stream fails (aborted, reset)', async () => {
    const req = Object.assign(
      new Readable({
        read() {
          this.destroy(new Error('aborted'));
        },
      }),
      { headers: JSON_TYPE },
    ) as unknown as IncomingMessage;
    expect(await readBodyStage(1024).run(contextFor(req), signal)).toMatchObject(clientClosed);
  });

  it('holds the bodies being read under one shared budget: 503 past it, the bytes given back once read', async () => {
    const budget = new BodyBudget(100);
    const stage = readBodyStage(1024, budget);
    // A body still coming (a stream that has not ended) holds its declared 60 bytes.
    const pending = new Readable({ read() {} });
    const held = Object.assign(pending, {
      headers: { ...JSON_TYPE, 'content-length': '60' },
      rawHeaders: [],
    });
    const first = stage.run(contextFor(held as unknown as IncomingMessage), signal);
    await new Promise((r) => setImmediate(r));
    expect(budget.used).toBe(60);
    // Another declaring 50 would pass 100: refused before it is read, with Retry-After.
    const second = contextFor(fakeRequest({ ...JSON_TYPE, 'content-length': '50' }, ['x'.repeat(50)]));
    expect(await stage.run(second, signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_SERVER_BUSY', status: 503, headers: { 'retry-after': '1' } },
    });
    // A chunked one (no length) is taken as it comes: 41 bytes pass it too.
    const chunked = contextFor(fakeRequest(JSON_TYPE, ['x'.repeat(30), 'y'.repeat(11)]));
    expect(await stage.run(chunked, signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_SERVER_BUSY' },
    });
    expect(budget.used).toBe(60);
    pending.push('z'.repeat(60));
    pending.push(null);
    expect(await first).toEqual({ kind: 'continue' });
    expect(budget.used).toBe(0);
    expect(
      await stage.run(
        contextFor(fakeRequest({ ...JSON_TYPE, 'content-length': '50' }, ['x'.repeat(50)])),
        signal,
      ),
    ).toEqual({
      kind: 'continue',
    });
    expect(budget.used).toBe(0);
  });
});
