/**
 * The checks of src/server/header-fields.ts on their own: the field count and a second Host, and absolute-form
 * request targets turned into the origin form (raw, default ports aside, Host from the target on HTTP/1.0).
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { connectionProblem, headerFieldsProblem, toOriginForm } from '../../../src/server/header-fields.js';

describe('headerFieldsProblem', () => {
  it('refuses more fields than the bound (431) and a second Host (400), case aside', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => [`f${i}`, '']).flat();
    expect(headerFieldsProblem(fields(100), 100)).toBeUndefined();
    expect(headerFieldsProblem(fields(101), 100)?.status).toBe(431);
    expect(headerFieldsProblem(['Host', 'a', 'HOST', 'b'], 100)?.message).toBe(
      'Bad Request: more than one Host header field',
    );
  });
});

describe('toOriginForm', () => {
  const target = (url: string, host?: string) => {
    const req = { url, headers: host === undefined ? {} : { host } };
    const err = toOriginForm(req);
    return { err: err?.message, url: req.url, host: req.headers.host };
  };

  it('leaves an origin-form target alone', () => {
    expect(target('/mcp?x=1', 'h')).toEqual({ err: undefined, url: '/mcp?x=1', host: 'h' });
  });

  it("serves the target's own path and query when it names the Host, default ports aside", () => {
    expect(target('http://h:80/mcp?x=1', 'h').url).toBe('/mcp?x=1');
    expect(target('http://h/mcp', 'H:80').url).toBe('/mcp');
    expect(target('https://h:443/mcp', 'h').url).toBe('/mcp');
    expect(target('http://h:8080/mcp', 'h:8080').url).toBe('/mcp');
    // Not normalised: the same bytes as an origin-form target would carry.
    expect(target('http://h/x/%2e%2e/mcp', 'h').url).toBe('/x/%2e%2e/mcp');
    expect(target('http://h?x=1', 'h').url).toBe('/?x=1');
  });

  it('takes the Host from the target when the request has none (HTTP/1.0)', () => {
    expect(target('http://h:8080/mcp')).toEqual({ err: undefined, url: '/mcp', host: 'h:8080' });
  });

  it('refuses another host, a port that differs, user information or another scheme', () => {
    expect(target('http://evil/mcp', 'h').err).toBe(
      'Bad Request: the request target names another host than Host',
    );
    expect(target('http://h:81/mcp', 'h').err).toMatch(/another host/);
    expect(target('https://h:80/mcp', 'h').err).toMatch(/another host/);
    expect(target('http://u@h/mcp', 'h').err).toBe('Bad Request: the request target has no plain host');
    expect(target('ftp://h/mcp', 'h').err).toBe('Bad Request: the request target is not a path');
  });
});

describe('connectionProblem', () => {
  it('refuses a Connection header listing a header the exchange needs end to end', () => {
    for (const c of [
      'close, Mcp-Session-Id',
      'keep-alive,content-type',
      'MCP-Protocol-Version',
      'x, mcp-param-region',
    ]) {
      expect(connectionProblem(c)?.message, c).toMatch(
        /^Bad Request: Connection lists [a-z-]+, which the request needs end to end$/,
      );
    }
  });

  it('lets the usual values and other hop-by-hop names through', () => {
    for (const c of [
      undefined,
      'keep-alive',
      'close',
      'Keep-Alive',
      'upgrade',
      'close, x-custom-hop',
      'TE',
    ]) {
      expect(connectionProblem(c), String(c)).toBeUndefined();
    }
  });
});
