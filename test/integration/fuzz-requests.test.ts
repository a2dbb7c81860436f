/**
 * Property-style fuzzing of the Streamable HTTP endpoint: ~440 malformed or unusual requests, generated
 * from a fixed seed, against a real sidecar in front of the example MCP server (stateless). Every request
 * must be answered (a close only for broken HTTP framing), never with a 500; a JSON 4xx/5xx must be a
 * JSON-RPC error; no answer may echo a bearer token; only a well-formed, authenticated, allowed message may
 * reach the upstream (seen on undici's diagnostics channel, so also bodies the upstream's own call log
 * ignores); and a valid `echo` call after every tenth case must keep succeeding. Each request
 * comes from its own loopback address (127.77.x.y), so the default abuse rule (20 failed logins per
 * address and minute) cannot block the run half-way.
 *
 * @module
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Answer,
  CATEGORIES,
  type Case,
  DENIED_TOOLS,
  generate,
  type Header,
  J,
  line,
  show,
} from '../helpers/fuzz-cases.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

describe('fuzzed requests to the MCP endpoint', () => {
  let h: Harness;
  let tokens: Record<string, string> = {};
  let cases: Case[] = [];
  let sent = 0;
  /** Requests the sidecar sent upstream on a client's behalf (its own tool discovery carries no X-Forwarded-For). */
  const upstream: string[] = [];
  const onRequest = (m: unknown) => {
    const r = (m as { request: { origin: unknown; method: string; path: string; headers: unknown } }).request;
    const forwarded =
      String(r.origin).endsWith(`:${h?.upstream.port}`) && /x-forwarded-for/i.test(String(r.headers));
    if (forwarded) upstream.push(`${r.method} ${r.path}`);
  };
  const named = (s: string) =>
    Object.entries(tokens).reduce((a, [k, t]) => a.replaceAll(t, `<token $${k}>`), s);
  const label = (c: Case) => {
    const hs = c.headers?.length ? ` headers=${show(named(J(c.headers)), 240)}` : '';
    const what = c.raw
      ? `raw=${show(named(c.raw), 240)}`
      : `body=${show(c.body ?? (c.chunks ?? []).join(''))}`;
    return `[${c.cat}] ${c.method ?? 'POST'} ${named(c.path ?? '/mcp')}${hs} ${what}`;
  };

  beforeAll(async () => {
    h = await startHarness({ upstreamStateless: true });
    subscribe('undici:request:create', onRequest);
    const mint = (extra: Record<string, unknown> = {}) => h.token({ roles: ['user'], ...extra });
    const U = (await h.bearer(['user'])).authorization?.slice(7) ?? '';
    const [h64, p64, s64 = ''] = U.split('.');
    const b64 = (o: unknown) => Buffer.from(J(o)).toString('base64url');
    tokens = { U, C: await mint({ sub: 'fuzz-control' }), X: await mint({ expiresIn: '-5m' }) };
    Object.assign(tokens, {
      A: await mint({ audience: 'https://other.example/mcp' }),
      F: `${h64}.${p64}.${s64.slice(0, 9)}${s64[9] === 'A' ? 'B' : 'A'}${s64.slice(10)}`,
      Z: `${b64({ alg: 'none' })}.${p64}.`,
      W: `${h64}.${b64({ sub: 'x', roles: ['admin'] })}.${s64}`,
      O0: await mint({ sub: 'a\0b\u2028' }),
      O1: await mint({ sub: '\ud800' }),
      O2: await mint({ sub: 's'.repeat(5_000), tenant: 't,%' }),
    });
    cases = generate(tokens);
  }, 120_000);
  afterAll(async () => {
    unsubscribe('undici:request:create', onRequest);
    await h?.stop();
  });

  /** One request from its own source address; a raw one reads until the server closes (or 5 s pass). */
  function send(c: Case): Promise<Answer> {
    const port = Number(new URL(h.mcpUrl).port);
    const localAddress = `127.77.${sent >> 7}.${(sent++ & 127) + 1}`;
    return new Promise((resolve) => {
      if (c.raw !== undefined) {
        const parts: Buffer[] = [];
        let error = 'closed without an answer';
        const s = connect({ host: '127.0.0.1', port, localAddress });
        s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
        s.on('data', (d: Buffer) => parts.push(d)).on('error', (err) => {
          error = err.message;
        });
        s.on('close', () => resolve(parseRaw(Buffer.concat(parts), error)));
        s.write(c.raw);
        if (c.halfClose) s.end();
        return;
      }
      const given = new Set((c.headers ?? []).map(([n]) => n));
      const base = `host: fuzz|content-type: application/json|accept: application/json, text/event-stream`;
      const defaults = [...base.split('|').map(line), ['authorization', `Bearer ${tokens.U}`]];
      const lines = [...defaults.filter(([n]) => !given.has(n ?? '')), ...(c.headers ?? [])].filter(
        (l) => l[1] !== null,
      );
      const body = c.body === undefined ? undefined : Buffer.from(c.body);
      if (body) lines.push(['content-length', String(body.length)]);
      const options = { host: '127.0.0.1', port, localAddress, agent: false, method: c.method ?? 'POST' };
      const req = request({ ...options, path: c.path ?? '/mcp', headers: lines.flat() as string[] });
      req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
      req
        .on('error', (err) => resolve({ error: err.message }))
        .on('response', (res) => {
          const parts: Buffer[] = [];
          const done = () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
          res.on('data', (d: Buffer) => parts.push(d)).on('end', done);
          res.on('error', (err) => resolve({ error: err.message }));
        });
      for (const chunk of c.chunks ?? []) req.write(chunk);
      req.end(body);
    });
  }

  function parseRaw(buf: Buffer, error: string): Answer {
    const text = buf.toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3})[\s\S]*?\r\n\r\n/.exec(text);
    if (!m) return { error: buf.length ? `unparseable answer ${show(buf, 80)}` : error };
    const type = /\r\ncontent-type: *([^\r]*)/i.exec(m[0])?.[1];
    const headers = { 'content-type': type, head: m[0] };
    return { status: Number(m[1]), headers, body: buf.subarray(m[0].length) };
  }
  const isRpcError = (m: unknown): boolean => {
    const o = m as { jsonrpc?: unknown; error?: { code?: unknown; message?: unknown } } | null;
    return o?.jsonrpc === '2.0' && Number.isInteger(o.error?.code) && typeof o.error?.message === 'string';
  };

  /** Sends one case; every property it breaks, each naming the category and the input. */
  async function check(c: Case): Promise<string[]> {
    const [before, beforeCalls] = [upstream.length, h.upstream.calls().length];
    const a = await send(c);
    const [reached, calls] = [upstream.slice(before), h.upstream.calls().slice(beforeCalls)];
    const problems: string[] = [];
    if ('error' in a && (!c.framing || a.error === 'timeout')) problems.push(`no answer (${a.error})`);
    if (!('error' in a)) {
      const text = a.body.toString('utf8');
      if (a.status === 500) problems.push(`status 500: ${show(text, 300)}`);
      if (a.status >= 400 && String(a.headers['content-type']).includes('json') && a.body.length > 0) {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {}
        if (!(Array.isArray(body) ? body.length > 0 && body.every(isRpcError) : isRpcError(body)))
          problems.push(`${a.status} body is not a JSON-RPC error: ${show(text, 300)}`);
      }
      const creds = (c.headers ?? []).filter(([n]) => n === 'authorization' || n === 'x-api-key');
      const words = creds.flatMap(([, v]) => (v ?? '').split(/\s+/)).filter((w) => w.length >= 24);
      if ([tokens.U, tokens.C, ...words].some((t) => t && (text + J(a.headers)).includes(t)))
        problems.push(`answer (${a.status}) echoes a bearer token`);
      if (c.want === 'control' && (a.status !== 200 || !text.includes(c.expectText ?? '?')))
        problems.push(`control failed: ${a.status} ${show(text, 300)}`);
    }
    if (c.want === '-' && reached.length > 0) {
      const what = [...reached, ...calls.map((m) => `${m.kind} ${m.method ?? ''} ${m.name ?? ''}`.trim())];
      problems.push(`reached the upstream (answer ${'error' in a ? a.error : a.status}): ${what.join('; ')}`);
    }
    for (const m of calls)
      if (m.method === 'tools/call' && DENIED_TOOLS.has(m.name ?? ''))
        problems.push(`${m.name} reached the upstream`);
    return problems.map((p) => `${label(c)}\n    → ${p}`);
  }

  /** A valid call of `echo` by a caller of its own (rate-limit bucket); it must answer 200 with its text. */
  const control = (after: string) => {
    const text = `ctl-${sent}-ok`;
    const body = `{"jsonrpc":"2.0","id":"${text}","method":"tools/call","params":{"name":"echo","arguments":{"text":"${text}"}}}`;
    const headers: Header[] = [['authorization', `Bearer ${tokens.C}`]];
    return check({ cat: `control after ${after}`, want: 'control', body, expectText: text, headers });
  };

  for (const cat of CATEGORIES) {
    it(`holds every property for ${cat} inputs`, async () => {
      const mine = cases.filter((c) => c.cat === cat);
      expect(mine.length).toBeGreaterThan(4);
      const problems: string[] = [];
      for (const [i, c] of mine.entries()) {
        problems.push(...(await check(c)));
        if (i % 10 === 9) problems.push(...(await control(cat)));
      }
      problems.push(...(await control(cat)));
      expect(problems, `${problems.length} violation(s) among ${mine.length} ${cat} cases`).toEqual([]);
    }, 60_000);
  }

  it('stays healthy after the run', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(400);
    expect(cases.filter((c) => !CATEGORIES.includes(c.cat))).toEqual([]);
    expect(await control('the run')).toEqual([]);
    expect((await fetch(`${h.sidecar.adminUrl}/healthz`)).status).toBe(200);
    const fatal = h.logs.filter((l) => /"level":(60|"fatal")/.test(l) || /uncaught/i.test(l));
    expect(fatal.map((l) => show(l, 300))).toEqual([]);
  });
});
