/**
 * The policy as a sidecar component: the reloader that loads the bundle and keeps it current (for a
 * bundle URL with `policy.persistDir`, also a local copy of its last bundle to start on), with the secrets
 * it reads (the verification key, a bundle URL's bearer token — files re-read when a Secret mount
 * changes), and the engine's state for `/readyz`.
 *
 * @module
 */
import type { Config } from '../config/schema.js';
import { openSecret, type SecretSourceOptions } from '../config/secrets.js';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import { isUrl } from './bundle-download.js';
import { BundlePersistence } from './bundle-persist.js';
import type { PolicyEngine } from './engine.js';
import { PolicyReloader } from './reloader.js';

export function createPolicyComponent(
  config: Config,
  deps: {
    readonly engine: PolicyEngine;
    readonly logger: Logger;
    readonly env?: SecretSourceOptions['env'];
  },
): Component {
  const { engine, logger } = deps;
  const secretOpts = { ...(deps.env ? { env: deps.env } : {}), logger };
  const verification = config.policy.verification;
  const verifyKey = verification ? openSecret(config, 'bundleVerificationKey', secretOpts) : undefined;
  const bundleToken = isUrl(config.policy.bundle) ? openSecret(config, 'bundleToken', secretOpts) : undefined;
  const persistDir = isUrl(config.policy.bundle) ? config.policy.persistDir : undefined;
  const reloader = new PolicyReloader({
    location: config.policy.bundle,
    watch: config.policy.watch,
    pollIntervalMs: config.policy.pollIntervalMs,
    engine,
    logger,
    ...(bundleToken
      ? { auth: { token: () => bundleToken.get(), configured: config.policy.bundleTokenFile !== undefined } }
      : {}),
    ...(verification && verifyKey ? { verification: { ...verification, key: () => verifyKey.get() } } : {}),
    ...(persistDir ? { persist: new BundlePersistence(persistDir, config.policy.bundle) } : {}),
    maxBytes: config.policy.maxBundleBytes,
  });
  return {
    name: 'policy',
    start: () => reloader.start(),
    stop: () => {
      verifyKey?.close();
      bundleToken?.close();
      return reloader.stop();
    },
    status: () => ({ ...engine.status() }),
  };
}
