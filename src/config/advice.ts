/**
 * Settings that are valid but probably not what the operator wants, as warnings logged once at start.
 *
 * @module
 */
import { isLoopbackHost } from './loopback.js';
import type { Config } from './schema.js';

/**
 * One sentence per questionable combination of settings; empty when there is nothing to say. `env` is where
 * secrets given as variables are seen (`AUTHZ_BUNDLE_TOKEN`).
 */
export function configAdvice(config: Config, env: NodeJS.ProcessEnv = {}): string[] {
  const advice: string[] = [];
  // On a loopback listener (the demo, a local run) the peer is the caller itself: nothing to warn about.
  const loopback = isLoopbackHost(config.server.host);
  if (config.server.trustProxyHops === 0 && !loopback) {
    const blocking = config.abuse.rules
      .filter((r) => r.kind === 'auth_failures_ip' && r.action === 'block')
      .map((r) => r.name);
    advice.push(
      'server.trustProxyHops is 0: the client IP is the connecting peer, so behind an ingress or load balancer ' +
        'every caller has its address: a policy rule on context.client_ip (the default policy lets restricted ' +
        'tools be called from private networks) is met by every caller' +
        (blocking.length
          ? `, and abuse rule ${blocking.join(', ')} blocks them all for one caller's failed logins`
          : '') +
        '; set server.trustProxyHops to the number of proxies in front of the sidecar, or leave it at 0 only ' +
        'where callers reach the pod directly',
    );
  }
  const bundle = /^http:\/\//i.test(config.policy.bundle) && URL.canParse(config.policy.bundle);
  const bundleLoopback = bundle && isLoopbackHost(new URL(config.policy.bundle).hostname);
  const tokenSetting = config.policy.bundleTokenFile
    ? 'policy.bundleTokenFile'
    : env.AUTHZ_BUNDLE_TOKEN
      ? 'AUTHZ_BUNDLE_TOKEN'
      : undefined;
  if (bundle && tokenSetting && !bundleLoopback) {
    advice.push(
      `${tokenSetting} is set for a bundle URL over plain http: the bearer token crosses the network ` +
        'readable by anyone on the path; serve the bundle over https',
    );
  }
  // Without a signature check, a bundle fetched over plain http is whatever someone on the path serves.
  // AUTHZ_BUNDLE_VERIFICATION_KEY alone checks nothing: it is the key of `policy.verification` when set.
  if (bundle && !bundleLoopback && config.policy.verification === undefined) {
    advice.push(
      'policy.bundle is fetched over plain http and no signature is required (policy.verification): anyone on ' +
        'the path can serve another policy; serve the bundle over https, or sign it and set policy.verification',
    );
  }
  const jwks = config.authn.jwt.jwksUri;
  if (jwks && /^http:\/\//i.test(jwks) && !isLoopbackHost(new URL(jwks).hostname)) {
    advice.push(
      'authn.jwt.jwksUri is plain http: anyone on the path can replace the keys and sign tokens the sidecar ' +
        'accepts; use https',
    );
  }
  const introspection = config.authn.introspection?.endpoint;
  if (
    introspection &&
    /^http:\/\//i.test(introspection) &&
    !isLoopbackHost(new URL(introspection).hostname)
  ) {
    advice.push(
      'authn.introspection.endpoint is plain http: the client secret and every opaque token cross the network ' +
        'readable by anyone on the path; use https',
    );
  }
  if (config.policy.persistDir && !/^https?:\/\//i.test(config.policy.bundle)) {
    advice.push(
      'policy.persistDir is set but policy.bundle is no http(s) URL: only a downloaded bundle is kept there, ' +
        'a local bundle is read where it is',
    );
  }
  const authn = config.authn;
  if (!authn.jwt.enabled && !authn.apiKeys.enabled && authn.introspection === undefined) {
    advice.push(
      'authn.jwt and authn.apiKeys are disabled and authn.introspection is not set: no caller can authenticate, ' +
        (authn.mode === 'strict'
          ? 'so every request is refused (401)'
          : 'so every caller is anonymous (authn.mode optional) and the default policy denies every anonymous ' +
            'request; only a policy that allows anonymous callers lets any through') +
        '; enable authn.jwt or authn.apiKeys, or set authn.introspection',
    );
  }
  const resource = config.authn.resource;
  const canonical = resource === undefined ? undefined : canonicalUri(resource);
  if (resource !== undefined && canonical !== resource) {
    advice.push(
      `authn.resource ${resource} is not in the canonical form MCP gives server URIs (lower-case scheme and ` +
        `host, no default port): ${canonical}. It is published as written, and a client comparing the ` +
        "metadata's resource with the URL it called (RFC 9728 §3.3) refuses it; write it in that form, as the " +
        'authorization server should know it',
    );
  }
  if (config.policy.dryRun) {
    advice.push(
      'policy.dryRun is on: the policy decides and records every request but enforces nothing; requests it ' +
        'denies are forwarded (audit records say enforced: false) and list replies are not pruned',
    );
  }
  return advice;
}

/**
 * `uri` as the WHATWG URL parser writes it (scheme and host lower-cased, the default port dropped, escapes
 * normalised), without the root path it gives a bare origin: what a client computes from the URL it called.
 */
function canonicalUri(uri: string): string {
  const u = new URL(uri);
  return u.pathname === '/' && !uri.endsWith('/') && u.search === '' ? u.href.slice(0, -1) : u.href;
}
