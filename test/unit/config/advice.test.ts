import { describe, expect, it } from 'vitest';
import { configAdvice } from '../../../src/config/advice.js';
import { parseConfig } from '../../../src/config/load.js';

/** A signature check, so a bundle over plain http is not also warned about as unsigned. */
const SIGNED = { keyFile: '/keys/bundle.pem' };

describe('configAdvice', () => {
  it('warns that an unsigned bundle over plain http, or a JWKS over plain http, can be replaced on the way', () => {
    const bundleAt = (bundle: string, verification?: typeof SIGNED, env: NodeJS.ProcessEnv = {}) =>
      configAdvice(
        parseConfig(
          { server: { trustProxyHops: 1 }, policy: { bundle, ...(verification ? { verification } : {}) } },
          {},
        ),
        env,
      );
    expect(bundleAt('http://bundles.internal/b.tar.gz')).toEqual([
      expect.stringMatching(/^policy\.bundle is fetched over plain http and no signature is required/),
    ]);
    expect(bundleAt('http://bundles.internal/b.tar.gz', SIGNED)).toEqual([]);
    // The variable is the key of policy.verification; alone it checks nothing.
    expect(
      bundleAt('http://bundles.internal/b.tar.gz', undefined, { AUTHZ_BUNDLE_VERIFICATION_KEY: 'k' }),
    ).toEqual([
      expect.stringMatching(/^policy\.bundle is fetched over plain http and no signature is required/),
    ]);
    expect(bundleAt('https://bundles.internal/b.tar.gz')).toEqual([]);
    expect(bundleAt('http://127.0.0.1:8181/b.tar.gz')).toEqual([]);
    const jwksAt = (jwksUri: string) =>
      configAdvice(
        parseConfig(
          {
            server: { trustProxyHops: 1 },
            authn: {
              resource: 'https://mcp.example.com/mcp',
              jwt: { jwksUri, issuers: ['https://idp.example.com'] },
            },
          },
          {},
        ),
      );
    expect(jwksAt('http://idp.example.com/jwks')).toEqual([
      expect.stringMatching(/^authn\.jwt\.jwksUri is plain http: anyone on the path can replace the keys/),
    ]);
    expect(jwksAt('https://idp.example.com/jwks')).toEqual([]);
    expect(jwksAt('http://127.0.0.1:9000/jwks')).toEqual([]);
  });

  it('warns that the policy and the default IP-blocking rule see the proxy, not the caller, without trusted hops', () => {
    const advice = configAdvice(parseConfig({}, {}));
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatch(/^server\.trustProxyHops is 0: the client IP is the connecting peer/);
    expect(advice[0]).toContain('a policy rule on context.client_ip');
    expect(advice[0]).toContain('abuse rule auth-failures-ip blocks them all');
  });

  it('has nothing to say once hops are trusted or on loopback, and names no rule that only alerts', () => {
    expect(configAdvice(parseConfig({ server: { trustProxyHops: 1 } }, {}))).toEqual([]);
    // A loopback listener: the peer is the caller (the demo, a local run).
    expect(configAdvice(parseConfig({ server: { host: '127.0.0.1' } }, {}))).toEqual([]);
    expect(configAdvice(parseConfig({ server: { host: '::1' } }, {}))).toEqual([]);
    const alertOnly = {
      abuse: {
        rules: [{ name: 'ip', kind: 'auth_failures_ip', threshold: 20, windowSec: 60, action: 'alert' }],
      },
    };
    const [alerting] = configAdvice(parseConfig(alertOnly, {}));
    expect(alerting).toContain('a policy rule on context.client_ip');
    expect(alerting).not.toContain('abuse rule');
  });

  it('warns that a bundle token would cross the network in the clear, and that a dry run enforces nothing', () => {
    const at = (bundle: string) =>
      configAdvice(
        parseConfig(
          { server: { trustProxyHops: 1 }, policy: { bundle, bundleTokenFile: '/t', verification: SIGNED } },
          {},
        ),
      );
    expect(at('http://bundles.internal/b.tar.gz')).toEqual([
      expect.stringMatching(/^policy\.bundleTokenFile is set for a bundle URL over plain http/),
    ]);
    expect(at('https://bundles.internal/b.tar.gz')).toEqual([]);
    expect(at('http://127.0.0.1:8181/b.tar.gz')).toEqual([]);
    expect(at('http://localhost/b.tar.gz')).toEqual([]);
    // The token given as a variable instead of a file.
    const viaEnv = parseConfig(
      {
        server: { trustProxyHops: 1 },
        policy: { bundle: 'http://b.internal/b.tar.gz', verification: SIGNED },
      },
      {},
    );
    expect(configAdvice(viaEnv, { AUTHZ_BUNDLE_TOKEN: 't' })).toEqual([
      expect.stringMatching(/^AUTHZ_BUNDLE_TOKEN is set for a bundle URL over plain http/),
    ]);
    expect(configAdvice(viaEnv, {})).toEqual([]);
    expect(at('http://[::1]:8181/b.tar.gz')).toEqual([]);
    // A DNS name that merely starts like a loopback address is somewhere on the network.
    expect(at('http://127.bundles.example/b.tar.gz')).toEqual([
      expect.stringMatching(/^policy\.bundleTokenFile is set for a bundle URL over plain http/),
    ]);
    expect(
      configAdvice(parseConfig({ server: { trustProxyHops: 1 }, policy: { dryRun: true } }, {})),
    ).toEqual([
      expect.stringMatching(
        /^policy\.dryRun is on: the policy decides and records every request but enforces nothing/,
      ),
    ]);
  });

  it('says that policy.persistDir keeps only downloaded bundles', () => {
    const at = (bundle: string) =>
      configAdvice(
        parseConfig({ server: { trustProxyHops: 1 }, policy: { bundle, persistDir: '/tmp/b' } }, {}),
      );
    expect(at('/app/policy/bundle.tar.gz')).toEqual([
      expect.stringMatching(/^policy\.persistDir is set but policy\.bundle is no http\(s\) URL/),
    ]);
    expect(at('https://bundles.example/b.tar.gz')).toEqual([]);
  });

  it('warns that an introspection endpoint over plain http exposes the client secret and the tokens', () => {
    const at = (endpoint: string) =>
      configAdvice(
        parseConfig(
          {
            server: { trustProxyHops: 1 },
            authn: { introspection: { endpoint, clientId: 'c', issuer: 'https://idp.example.com' } },
          },
          {},
        ),
      );
    expect(at('http://idp.internal/introspect')).toEqual([
      expect.stringMatching(/^authn\.introspection\.endpoint is plain http/),
    ]);
    expect(at('http://127.0.0.1:8080/introspect')).toEqual([]);
    expect(at('https://idp.example/introspect')).toEqual([]);
  });

  it('warns that nothing can authenticate when JWTs, API keys and introspection are all off', () => {
    const at = (authn: Record<string, unknown>) =>
      configAdvice(parseConfig({ server: { trustProxyHops: 1 }, authn }, {}));
    const off = { jwt: { enabled: false }, apiKeys: { enabled: false } };
    expect(at(off)).toEqual([
      expect.stringMatching(
        /^authn\.jwt and authn\.apiKeys are disabled and authn\.introspection is not set: no caller can authenticate, so every request is refused \(401\)/,
      ),
    ]);
    const [optional] = at({ ...off, mode: 'optional' });
    expect(optional).toContain('every caller is anonymous');
    expect(optional).toContain('the default policy denies every anonymous request');
    // One way in is enough.
    expect(at({ jwt: { enabled: false } })).toEqual([]);
    expect(at({ apiKeys: { enabled: false } })).toEqual([]);
    expect(
      at({
        ...off,
        introspection: {
          endpoint: 'https://idp.example/introspect',
          clientId: 'c',
          issuer: 'https://idp.example',
        },
      }),
    ).toEqual([]);
  });

  it('warns that authn.resource is not in the canonical form clients compare it in, and only then', () => {
    const at = (resource: string) =>
      configAdvice(parseConfig({ server: { trustProxyHops: 1 }, authn: { resource } }, {}));
    const [upper] = at('https://MCP.Example.com/mcp');
    expect(upper).toMatch(/^authn\.resource https:\/\/MCP\.Example\.com\/mcp is not in the canonical form/);
    expect(upper).toContain(': https://mcp.example.com/mcp.');
    expect(at('HTTPS://mcp.example.com:443/mcp')[0]).toContain(': https://mcp.example.com/mcp.');
    expect(at('http://mcp.example.com:80')[0]).toContain(': http://mcp.example.com.');
    // Canonical already, a port of its own, an origin with or without its slash: nothing to say.
    for (const ok of [
      'https://mcp.example.com/mcp',
      'https://mcp.example.com:8443/mcp',
      'https://mcp.example.com',
      'https://mcp.example.com/',
    ])
      expect(at(ok)).toEqual([]);
  });
});
