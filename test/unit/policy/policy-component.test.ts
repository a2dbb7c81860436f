/**
 * The policy component (src/policy/policy-component.ts) hands the configured bound and verification to the
 * reloader: a setting the component dropped would leave the reloader on its defaults.
 *
 * @module
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { PolicyEngine } from '../../../src/policy/engine.js';
import { createPolicyComponent } from '../../../src/policy/policy-component.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { defaultPolicyBundle } from '../../helpers/policy.js';
import { tempDir } from '../../helpers/temp-dir.js';

let bundle: string;
beforeAll(async () => {
  bundle = tempDir('component-bundle');
  await cp(await defaultPolicyBundle(), bundle, { recursive: true });
  await writeFile(join(bundle, '.manifest'), JSON.stringify({ revision: 'component-1' }));
});

async function startedWith(policy: Record<string, unknown>): Promise<PolicyEngine> {
  const engine = new PolicyEngine({
    decisionEntrypoint: 'mcp/authz/decision',
    visibleEntrypoint: 'mcp/authz/visible',
    logger: silentLogger(),
  });
  const config = parseConfig({ policy: { bundle, watch: false, ...policy } }, {});
  const component = createPolicyComponent(config, { engine, logger: silentLogger(), env: {} });
  await component.start();
  await component.stop();
  return engine;
}

describe('createPolicyComponent', () => {
  it('loads the bundle under the default bound', async () => {
    expect((await startedWith({})).revision).toBe('component-1');
  });

  it('refuses a bundle over policy.maxBundleBytes: no policy, the setting named', async () => {
    const engine = await startedWith({ maxBundleBytes: 1024 });
    expect(engine.revision).toBeNull();
    expect(engine.status().lastError).toMatch(/over 1024 bytes .*policy\.maxBundleBytes/);
  });
});
