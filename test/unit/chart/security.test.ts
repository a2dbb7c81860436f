/**
 * The security-relevant parts of the rendered chart: only the sidecar's port is reachable from outside the
 * pod (Service, NetworkPolicy, no port for the MCP server, which listens on localhost), probes go to the admin
 * port, containers run locked down, config changes roll the pods, and the rendered config.yaml is one the
 * sidecar itself accepts.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, parseConfig } from '../../../src/config/load.js';
import { tempDir } from '../../helpers/temp-dir.js';
import {
  all,
  CHART,
  type Container,
  container,
  EXAMPLES,
  ensureRenderer,
  type K8sObject,
  one,
  type RenderOptions,
  render,
  renderError,
} from './render.js';

const DEPLOYMENT = { values: [join(EXAMPLES, 'deployment-values.yaml')] };
const PRODUCTION = { values: [join(EXAMPLES, 'production-values.yaml')] };

let deploymentMode: K8sObject[];
let production: K8sObject[];

beforeAll(async () => {
  await ensureRenderer();
  [deploymentMode, production] = await Promise.all([
    render(CHART, DEPLOYMENT).then((r) => r.objects),
    render(CHART, PRODUCTION).then((r) => r.objects),
  ]);
}, 600_000);

const config = (objects: K8sObject[]) =>
  parse(one(objects, 'ConfigMap', 'demo-mcp-authz-config').data['config.yaml']);
const podSpec = (objects: K8sObject[]) => one(objects, 'Deployment').spec.template.spec;
const portNumber = (c: Container, name: string): number =>
  (c.ports as { name: string; containerPort: number }[]).find((p) => p.name === name)?.containerPort ?? -1;

describe('only the sidecar is reachable from outside the pod', () => {
  for (const [name, objects] of [
    ['deployment example', () => deploymentMode],
    ['production example', () => production],
  ] as const) {
    it(`${name}: the Service exposes only the sidecar's public port`, () => {
      const deployment = one(objects(), 'Deployment');
      const sidecar = container(deployment, 'mcp-authz');
      const service = one(objects(), 'Service', 'demo-mcp-authz');
      expect(service.spec.ports).toHaveLength(1);
      expect(service.spec.ports[0].targetPort).toBe('http');
      expect(portNumber(sidecar, 'http')).toBe(config(objects()).server.port);
      // Any other Service (the metrics one) targets only the admin port, never the MCP server.
      for (const s of all(objects(), 'Service')) {
        for (const p of s.spec.ports) expect(['http', 'admin']).toContain(p.targetPort);
      }
    });

    it(`${name}: the MCP server has no port, listens on localhost, and is the sidecar's upstream`, () => {
      const deployment = one(objects(), 'Deployment');
      const server = container(deployment, 'mcp-server');
      expect(server.ports).toBeUndefined();
      const env = Object.fromEntries(
        (server.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]),
      );
      const cfg = config(objects());
      const upstream = new URL(cfg.upstream.url);
      expect(upstream.hostname).toBe('127.0.0.1');
      const listen = Object.values(env);
      expect(listen).toContain('127.0.0.1');
      expect(listen).toContain(upstream.port);
      // Nothing in the pod publishes the upstream port or uses the host's network.
      const spec = podSpec(objects());
      expect(spec.hostNetwork).toBeUndefined();
      for (const c of spec.containers as Container[]) {
        for (const p of c.ports ?? []) {
          expect(p.containerPort).not.toBe(Number(upstream.port));
          expect(p.hostPort).toBeUndefined();
        }
      }
    });

    it(`${name}: the NetworkPolicy admits only the sidecar port (and the admin port to the scraper)`, () => {
      const policy = one(objects(), 'NetworkPolicy');
      expect(policy.spec.policyTypes).toEqual(['Ingress']);
      expect(policy.spec.podSelector.matchLabels).toEqual(
        one(objects(), 'Deployment').spec.selector.matchLabels,
      );
      const cfg = config(objects());
      const [publicRule, ...others] = policy.spec.ingress as {
        ports: { port: number }[];
        from?: unknown[];
      }[];
      expect(publicRule?.ports).toEqual([{ port: cfg.server.port, protocol: 'TCP' }]);
      for (const rule of others) {
        expect(rule.ports).toEqual([{ port: cfg.admin.port, protocol: 'TCP' }]);
        expect(rule.from?.length).toBeGreaterThan(0);
      }
    });
  }

  it('the default NetworkPolicy has exactly one rule, for the sidecar port', () => {
    const policy = one(deploymentMode, 'NetworkPolicy');
    expect(policy.spec.ingress).toEqual([{ ports: [{ port: 8080, protocol: 'TCP' }] }]);
  });

  it('a non-loopback MCP server address is refused', async () => {
    const error = await renderError(CHART, { ...DEPLOYMENT, set: ['mcpServer.host=0.0.0.0'] });
    expect(error).toContain('mcpServer.host must be a loopback address');
  });

  it('refuses a password inside a Redis or bundle URL, which would land in the ConfigMap', async () => {
    const redis = await renderError(CHART, { ...DEPLOYMENT, set: ['redis.url=redis://:s3cret@redis:6379'] });
    expect(redis).toContain('redis.url carries a password');
    expect(redis).not.toContain('s3cret');
    // The sidecar reads the userinfo up to the last "@": base64 passwords hold "/" and "+", others "?" or "#".
    for (const url of [
      'redis://:Zm9v/YmFy+cXV4@redis-master.redis:6379/0',
      'redis://default:ab?cd@redis:6379',
      'rediss://:k#9x@redis:6380',
      'redis+sentinel://:p@ss@s1:26379\\,s2:26379/mymaster',
    ]) {
      const e = await renderError(CHART, { ...DEPLOYMENT, set: [`redis.url=${url}`] });
      expect(e, url).toContain('redis.url carries a password');
    }
    const bundle = await renderError(CHART, {
      ...DEPLOYMENT,
      set: ['policy.source=url', 'policy.url=https://u:p4ss@bundles.example/b.tar.gz'],
    });
    expect(bundle).toContain('policy.url carries credentials');
    // A token as the URL's user is a credential as well.
    const token = await renderError(CHART, {
      ...DEPLOYMENT,
      set: ['policy.source=url', 'policy.url=https://ghp_t0ken@bundles.example/b.tar.gz'],
    });
    expect(token).toContain('policy.url carries credentials');
    // A presigned or SAS URL carries its credential in the query: the Secret of policy.urlSecret is its place.
    for (const url of [
      'https://b.s3.amazonaws.com/b.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=5ecre7',
      'https://acct.blob.core.windows.net/c/b.tar.gz?sv=2022-11-02&sig=5ecre7',
      'https://storage.googleapis.com/b/b.tar.gz?X-Goog-Signature=5ecre7',
      'https://bundles.example/b.tar.gz?access_token=5ecre7',
      'https://gitlab.example/api/v4/projects/1/packages/generic/p/1/b.tar.gz?private_token=5ecre7',
      'https://storage.googleapis.com/storage/v1/b/x/o/b.tar.gz?alt=media&key=5ecre7',
      'https://bundles.example/b.tar.gz?API_KEY=5ecre7',
    ]) {
      const e = await renderError(CHART, { ...DEPLOYMENT, set: ['policy.source=url', `policy.url=${url}`] });
      expect(e, url).toContain('policy.url carries a credential in its query');
      expect(e, url).not.toContain('5ecre7');
    }
    const plain = await render(CHART, {
      ...DEPLOYMENT,
      set: ['policy.source=url', 'policy.url=https://bundles.example/b.tar.gz?v=2'],
    });
    // A parameter whose name only ends in one of those is none of them.
    const monkey = await render(CHART, {
      ...DEPLOYMENT,
      set: ['policy.source=url', 'policy.url=https://bundles.example/b.tar.gz?monkey=1'],
    });
    expect(parse(one(plain.objects, 'ConfigMap').data['config.yaml']).policy.bundle).toBe(
      'https://bundles.example/b.tar.gz?v=2',
    );
    expect(parse(one(monkey.objects, 'ConfigMap').data['config.yaml']).policy.bundle).toBe(
      'https://bundles.example/b.tar.gz?monkey=1',
    );
    // A user name alone is no secret, nor a host's port.
    for (const url of ['redis://authz@redis:6379', 'redis+sentinel://authz@s1:26379\\,s2:26379/mymaster/0']) {
      const { objects } = await render(CHART, { ...DEPLOYMENT, set: [`redis.url=${url}`] });
      expect(parse(one(objects, 'ConfigMap').data['config.yaml']).store.redisUrl).toBe(url.replace('\\', ''));
    }
  });
});

describe('probes and ports', () => {
  it('liveness, readiness and startup probes go to the admin port, not the public one', () => {
    const sidecar = container(one(production, 'Deployment'), 'mcp-authz');
    const cfg = config(production);
    expect(portNumber(sidecar, 'admin')).toBe(cfg.admin.port);
    expect(cfg.admin.port).not.toBe(cfg.server.port);
    expect(sidecar.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(sidecar.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
  });

  it('ports follow config.server.port and config.admin.port', async () => {
    const { objects } = await render(CHART, {
      ...DEPLOYMENT,
      set: ['config.server.port=8443', 'config.admin.port=9443'],
    });
    const sidecar = container(one(objects, 'Deployment'), 'mcp-authz');
    expect(portNumber(sidecar, 'http')).toBe(8443);
    expect(portNumber(sidecar, 'admin')).toBe(9443);
    expect(one(objects, 'NetworkPolicy').spec.ingress[0].ports[0].port).toBe(8443);
  });
});

describe('containers run locked down', () => {
  const restricted = {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };

  it('the sidecar and the MCP server: non-root, read-only root fs, no capabilities, seccomp RuntimeDefault', () => {
    const deployment = one(deploymentMode, 'Deployment');
    const sidecar = container(deployment, 'mcp-authz');
    expect(sidecar.securityContext).toMatchObject({ ...restricted, runAsUser: 10001, runAsGroup: 10001 });
    expect(container(deployment, 'mcp-server').securityContext).toMatchObject(restricted);
    expect(podSpec(deploymentMode).securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('writes go only to /tmp (emptyDir); config, policy and secrets are mounted read-only', () => {
    const spec = podSpec(production);
    const sidecar = container(one(production, 'Deployment'), 'mcp-authz');
    const volumes = Object.fromEntries((spec.volumes as { name: string }[]).map((v) => [v.name, v]));
    const mounts = sidecar.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
    // /tmp is there (the root filesystem is read-only), besides the config, policy and secrets.
    expect(mounts.map((m) => m.mountPath)).toContain('/tmp');
    expect(mounts.length).toBeGreaterThan(1);
    for (const m of mounts) {
      if (m.mountPath === '/tmp') expect(volumes[m.name]).toHaveProperty('emptyDir');
      else expect(m.readOnly, m.mountPath).toBe(true);
    }
  });

  it('no Kubernetes API token and no service-link variables (a Service named authz would set AUTHZ_PORT)', () => {
    const spec = podSpec(deploymentMode);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(one(deploymentMode, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  it('secrets are referenced, never rendered: Secret volumes point at existingSecret names', () => {
    const spec = podSpec(production);
    expect(all(production, 'Secret')).toEqual([]);
    const secretNames = (spec.volumes as { secret?: { secretName: string } }[])
      .flatMap((v) => (v.secret ? [v.secret.secretName] : []))
      .sort();
    expect(secretNames).toEqual(['crm-mcp-authz', 'crm-mcp-authz']);
    const cfg = config(production);
    expect(cfg.authn.apiKeys.pepperFile).toBe('/var/run/secrets/mcp-authz/api-key-pepper/api-key-pepper');
    expect(cfg.store.passwordFile).toBe('/var/run/secrets/mcp-authz/redis-password/redis-password');
    expect(cfg.store.redisUrl).toBe('redis://redis-master.redis.svc.cluster.local:6379/0');
  });
});

describe('the report token', () => {
  it('comes from a Secret mounted read-only, and config.admin.reportTokenFile is left to the chart', async () => {
    const objects = (await render(CHART, { ...DEPLOYMENT, set: ['secrets.reportToken.existingSecret=ops'] }))
      .objects;
    expect(config(objects).admin.reportTokenFile).toBe(
      '/var/run/secrets/mcp-authz/report-token/report-token',
    );
    const spec = podSpec(objects);
    const volume = (spec.volumes as { name: string; secret?: { secretName: string } }[]).find(
      (v) => v.secret?.secretName === 'ops',
    );
    const mount = (
      container(one(objects, 'Deployment'), 'mcp-authz').volumeMounts as {
        name: string;
        mountPath: string;
        readOnly?: boolean;
      }[]
    ).find((m) => m.name === volume?.name);
    expect(mount).toMatchObject({ mountPath: '/var/run/secrets/mcp-authz/report-token', readOnly: true });
    const error = await renderError(CHART, { ...DEPLOYMENT, set: ['config.admin.reportTokenFile=/x'] });
    expect(error).toContain(
      'config.admin.reportTokenFile is set by the chart: set secrets.reportToken.existingSecret',
    );
  });
});

describe('the bundle verification key', () => {
  it('turns on policy.verification with the key mounted from a Secret; config.policy.verification alone is refused', async () => {
    const objects = (
      await render(CHART, {
        ...DEPLOYMENT,
        set: [
          'secrets.bundleVerificationKey.existingSecret=bundle-signing',
          'config.policy.verification.scope=prod',
        ],
      })
    ).objects;
    expect(config(objects).policy.verification).toEqual({
      keyFile: '/var/run/secrets/mcp-authz/bundle-verification-key/public.pem',
      scope: 'prod',
    });
    const volumes = podSpec(objects).volumes as { name: string; secret?: { secretName: string } }[];
    expect(volumes.some((v) => v.secret?.secretName === 'bundle-signing')).toBe(true);
    const error = await renderError(CHART, { ...DEPLOYMENT, set: ['config.policy.verification.scope=prod'] });
    expect(error).toContain('set secrets.bundleVerificationKey.existingSecret');
    const owned = await renderError(CHART, {
      ...DEPLOYMENT,
      set: ['secrets.bundleVerificationKey.existingSecret=b', 'config.policy.verification.keyFile=/x'],
    });
    expect(owned).toContain('config.policy.verification.keyFile is set by the chart');
  });
});

describe('the bundle token', () => {
  it('mounts the token from a Secret as policy.bundleTokenFile for a bundle URL, and refuses it for any other source', async () => {
    const objects = (
      await render(CHART, {
        ...DEPLOYMENT,
        set: [
          'policy.source=url',
          'policy.url=https://bundles.example/mcp.tar.gz',
          'secrets.bundleToken.existingSecret=bundle-pull',
        ],
      })
    ).objects;
    expect(config(objects).policy).toMatchObject({
      bundle: 'https://bundles.example/mcp.tar.gz',
      bundleTokenFile: '/var/run/secrets/mcp-authz/bundle-token/token',
    });
    const volumes = podSpec(objects).volumes as { name: string; secret?: { secretName: string } }[];
    expect(volumes.some((v) => v.secret?.secretName === 'bundle-pull')).toBe(true);
    const error = await renderError(CHART, {
      ...DEPLOYMENT,
      set: ['secrets.bundleToken.existingSecret=bundle-pull'],
    });
    expect(error).toContain('secrets.bundleToken is sent only with a bundle URL');
    const owned = await renderError(CHART, { ...DEPLOYMENT, set: ['config.policy.bundleTokenFile=/x'] });
    expect(owned).toContain('config.policy.bundleTokenFile is set by the chart');
  });

  it('takes a presigned bundle URL from a Secret, as AUTHZ_POLICY_BUNDLE, never into the ConfigMap', async () => {
    const { objects } = await render(CHART, {
      ...DEPLOYMENT,
      set: ['policy.source=url', 'policy.urlSecret.existingSecret=bundle-url'],
    });
    const env = container(one(objects, 'Deployment'), 'mcp-authz').env as {
      name: string;
      valueFrom?: unknown;
    }[];
    expect(env.find((e) => e.name === 'AUTHZ_POLICY_BUNDLE')).toEqual({
      name: 'AUTHZ_POLICY_BUNDLE',
      valueFrom: { secretKeyRef: { name: 'bundle-url', key: 'url' } },
    });
    // The sidecar loads the Secret's URL: the environment wins over the ConfigMap's stand-in.
    const signed = 'https://bucket.s3.amazonaws.com/bundle.tar.gz?X-Amz-Signature=0a1b2c';
    const file = join(tempDir('chart-url-secret'), 'config.yaml');
    writeFileSync(file, one(objects, 'ConfigMap').data['config.yaml'] as string);
    const podEnv = { AUTHZ_POLICY_BUNDLE: signed, AUTHZ_JWT_HS_SECRET: 'x'.repeat(32) };
    const loaded = loadConfig({ file, env: podEnv });
    expect(loaded.policy.bundle).toBe(signed);
    expect(loaded.policy.persistDir).toBe('/tmp/mcp-authz-bundle');
    const both = await renderError(CHART, {
      ...DEPLOYMENT,
      set: [
        'policy.source=url',
        'policy.url=https://b.example/x.tar.gz',
        'policy.urlSecret.existingSecret=s',
      ],
    });
    expect(both).toContain('give policy.url or policy.urlSecret, not both');
    const twice = await renderError(CHART, {
      ...DEPLOYMENT,
      set: ['policy.source=url', 'policy.urlSecret.existingSecret=s', 'secrets.bundleToken.existingSecret=t'],
    });
    expect(twice).toContain(
      'policy.urlSecret carries its credential in the URL: leave secrets.bundleToken out',
    );
    // Without a source url, the Secret is not read.
    const image = await render(CHART, { ...DEPLOYMENT, set: ['policy.urlSecret.existingSecret=bundle-url'] });
    const imageEnv = container(one(image.objects, 'Deployment'), 'mcp-authz').env as { name: string }[];
    expect(imageEnv.some((e) => e.name === 'AUTHZ_POLICY_BUNDLE')).toBe(false);
  });
});

describe('the introspection client secret', () => {
  const introspection = [
    'config.authn.introspection.endpoint=https://login.example.com/introspect',
    'config.authn.introspection.clientId=mcp-authz',
  ];
  it('mounts it from a Secret as authn.introspection.clientSecretFile, and refuses either without the other', async () => {
    const objects = (
      await render(CHART, {
        ...DEPLOYMENT,
        set: [...introspection, 'secrets.introspectionClientSecret.existingSecret=idp-client'],
      })
    ).objects;
    expect(config(objects).authn.introspection).toMatchObject({
      endpoint: 'https://login.example.com/introspect',
      clientSecretFile: '/var/run/secrets/mcp-authz/introspection-client-secret/client-secret',
    });
    const volumes = podSpec(objects).volumes as { secret?: { secretName: string } }[];
    expect(volumes.some((v) => v.secret?.secretName === 'idp-client')).toBe(true);
    expect(await renderError(CHART, { ...DEPLOYMENT, set: introspection })).toContain(
      'config.authn.introspection is set: set secrets.introspectionClientSecret.existingSecret',
    );
    expect(
      await renderError(CHART, {
        ...DEPLOYMENT,
        set: ['secrets.introspectionClientSecret.existingSecret=idp'],
      }),
    ).toContain('secrets.introspectionClientSecret is used only with token introspection');
  });

  it('refuses introspection naming no authorization server, as the sidecar would at start', async () => {
    const set = [
      'mode=deployment',
      'mcpServer.image.repository=x',
      'mcpServer.image.tag=v1',
      'config.authn.resource=https://mcp.example.com/mcp',
      'config.authn.jwt.enabled=false',
      'secrets.introspectionClientSecret.existingSecret=idp-client',
      ...introspection,
    ];
    expect(await renderError(CHART, { set })).toContain(
      'config.authn.introspection needs config.authn.introspection.issuer',
    );
    const named = await render(CHART, {
      set: [...set, 'config.authn.introspection.issuer=https://login.example.com'],
    });
    const yaml = one(named.objects, 'ConfigMap').data['config.yaml'];
    expect(() => parseConfig(parse(yaml), { AUTHZ_INTROSPECTION_CLIENT_SECRET: 'x' })).not.toThrow();
  });

  it('takes a secret extraEnvFrom may supply (AUTHZ_INTROSPECTION_CLIENT_SECRET, AUTHZ_JWT_HS_SECRET)', async () => {
    const envFrom = ['extraEnvFrom[0].secretRef.name=mcp-authz-env'];
    const hs = [
      'secrets.jwtHsSecret.existingSecret=',
      'config.authn.resource=https://mcp.example.com/mcp',
      'config.authn.jwt.algorithms[0]=HS256',
      'config.authn.jwt.issuers[0]=demo-issuer',
    ];
    for (const set of [introspection, hs]) {
      expect(await renderError(CHART, { ...DEPLOYMENT, set })).toMatch(/in extraEnv or extraEnvFrom/);
      const { objects } = await render(CHART, { ...DEPLOYMENT, set: [...set, ...envFrom] });
      expect(container(one(objects, 'Deployment'), 'mcp-authz').envFrom).toEqual([
        { secretRef: { name: 'mcp-authz-env' } },
      ]);
    }
  });
});

describe('secrets in extraEnv', () => {
  it('refuses a secret variable with a literal value (written into the Deployment), takes one from a Secret', async () => {
    for (const name of [
      'AUTHZ_API_KEY_PEPPER',
      'AUTHZ_JWT_HS_SECRET',
      'AUTHZ_REDIS_PASSWORD',
      'AUTHZ_ADMIN_REPORT_TOKEN',
    ]) {
      const error = await renderError(CHART, {
        ...DEPLOYMENT,
        set: [`extraEnv[0].name=${name}`, 'extraEnv[0].value=5ecre7-5ecre7-5ecre7-5ecre7'],
      });
      expect(error, name).toContain(`extraEnv ${name} carries its value in the values`);
      expect(error, name).not.toContain('5ecre7');
    }
    const fromSecret = await render(CHART, {
      ...DEPLOYMENT,
      set: [
        'extraEnv[0].name=AUTHZ_API_KEY_PEPPER',
        'extraEnv[0].valueFrom.secretKeyRef.name=pepper',
        'extraEnv[0].valueFrom.secretKeyRef.key=pepper',
      ],
    });
    const env = container(one(fromSecret.objects, 'Deployment'), 'mcp-authz').env as { name: string }[];
    expect(env.map((e) => e.name)).toContain('AUTHZ_API_KEY_PEPPER');
  });

  it('takes a secret variable whose value only names other variables: Kubernetes fills it in, no secret is in it', async () => {
    // A Secret whose keys have other names (a Redis chart's REDIS_PASSWORD, through extraEnvFrom): the value
    // `$(REDIS_PASSWORD)` is expanded by the kubelet; the Deployment holds the reference, not the password.
    const { objects } = await render(CHART, {
      ...DEPLOYMENT,
      set: [
        'extraEnvFrom[0].secretRef.name=redis',
        'extraEnv[0].name=AUTHZ_REDIS_PASSWORD',
        'extraEnv[0].value=$(REDIS_PASSWORD)',
      ],
    });
    const env = container(one(objects, 'Deployment'), 'mcp-authz').env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === 'AUTHZ_REDIS_PASSWORD')?.value).toBe('$(REDIS_PASSWORD)');
    // Text around a reference, or `$$(…)` (a literal `$(…)`), is the value's own: refused as before.
    for (const value of ['pw-$(SUFFIX)', '$$(REDIS_PASSWORD)']) {
      const error = await renderError(CHART, {
        ...DEPLOYMENT,
        set: ['extraEnv[0].name=AUTHZ_REDIS_PASSWORD', `extraEnv[0].value=${value}`],
      });
      expect(error, value).toContain('extraEnv AUTHZ_REDIS_PASSWORD carries its value in the values');
    }
  });
});

describe('the kept bundle copy', () => {
  it('keeps a URL bundle in /tmp by default (policy.persistDir), not with persist off or another source', async () => {
    const url = ['policy.source=url', 'policy.url=https://bundles.example/mcp.tar.gz'];
    const kept = (await render(CHART, { ...DEPLOYMENT, set: url })).objects;
    expect(config(kept).policy.persistDir).toBe('/tmp/mcp-authz-bundle');
    // /tmp is the sidecar's writable emptyDir (the root filesystem is read-only).
    const mounts = container(one(kept, 'Deployment'), 'mcp-authz').volumeMounts as { mountPath: string }[];
    expect(mounts.map((m) => m.mountPath)).toContain('/tmp');
    const off = (await render(CHART, { ...DEPLOYMENT, set: [...url, 'policy.persist=false'] })).objects;
    expect(config(off).policy.persistDir).toBeUndefined();
    expect(config(deploymentMode).policy.persistDir).toBeUndefined();
    const owned = await renderError(CHART, { ...DEPLOYMENT, set: ['config.policy.persistDir=/x'] });
    expect(owned).toContain('config.policy.persistDir is set by the chart');
  });

  it('refuses extraEnv AUTHZ_POLICY_PERSIST_DIR, which would override policy.persist', async () => {
    const error = await renderError(CHART, {
      ...DEPLOYMENT,
      set: ['extraEnv[0].name=AUTHZ_POLICY_PERSIST_DIR', 'extraEnv[0].value=/x'],
    });
    expect(error).toContain('extraEnv AUTHZ_POLICY_PERSIST_DIR is set by the chart');
  });
});

describe('TLS on the public port', () => {
  it('mounts a kubernetes.io/tls Secret as server.tls, with the client CA only for mutual TLS', async () => {
    const objects = (await render(CHART, { ...DEPLOYMENT, set: ['tls.secretName=mcp-tls'] })).objects;
    expect(config(objects).server.tls).toEqual({
      certFile: '/var/run/secrets/mcp-authz/tls/tls.crt',
      keyFile: '/var/run/secrets/mcp-authz/tls/tls.key',
      minVersion: 'TLSv1.2',
    });
    const parsed = parseConfig(config(objects), {});
    expect(parsed.server.tls?.clientCaFile).toBeUndefined();
    const volume = (podSpec(objects).volumes as { name: string; secret?: Record<string, unknown> }[]).find(
      (v) => v.name === 'mcp-authz-tls',
    );
    expect(volume?.secret).toMatchObject({
      secretName: 'mcp-tls',
      items: [
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
    });
    const mounts = container(one(objects, 'Deployment'), 'mcp-authz').volumeMounts as {
      name: string;
      mountPath: string;
      readOnly?: boolean;
    }[];
    expect(mounts).toContainEqual({
      name: 'mcp-authz-tls',
      mountPath: '/var/run/secrets/mcp-authz/tls',
      readOnly: true,
    });
    expect(one(objects, 'Service', 'demo-mcp-authz').spec.ports[0]).toMatchObject({
      name: 'https',
      appProtocol: 'https',
      targetPort: 'http',
    });

    const mutual = (
      await render(CHART, {
        ...DEPLOYMENT,
        set: ['tls.secretName=mcp-tls', 'tls.requireClientCert=true', 'tls.minVersion=TLSv1.3'],
      })
    ).objects;
    expect(config(mutual).server.tls).toMatchObject({
      clientCaFile: '/var/run/secrets/mcp-authz/tls/ca.crt',
      minVersion: 'TLSv1.3',
    });
    const items = (podSpec(mutual).volumes as { name: string; secret?: { items: { key: string }[] } }[])
      .find((v) => v.name === 'mcp-authz-tls')
      ?.secret?.items.map((i) => i.key);
    expect(items).toEqual(['tls.crt', 'tls.key', 'ca.crt']);

    // A client CA of its own: mounted from its Secret, and the server Secret's ca.crt (if any) is not asked for.
    const ownCa = (
      await render(CHART, {
        ...DEPLOYMENT,
        set: ['tls.secretName=mcp-tls', 'tls.requireClientCert=true', 'tls.clientCaSecretName=gateway-ca'],
      })
    ).objects;
    expect(config(ownCa).server.tls.clientCaFile).toBe('/var/run/secrets/mcp-authz/tls-client-ca/ca.crt');
    const ownVolumes = podSpec(ownCa).volumes as {
      name: string;
      secret?: { secretName: string; items: { key: string }[] };
    }[];
    expect(ownVolumes.find((v) => v.name === 'mcp-authz-tls')?.secret?.items.map((i) => i.key)).toEqual([
      'tls.crt',
      'tls.key',
    ]);
    expect(ownVolumes.find((v) => v.name === 'mcp-authz-tls-client-ca')?.secret).toMatchObject({
      secretName: 'gateway-ca',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
    const ownMounts = container(one(ownCa, 'Deployment'), 'mcp-authz').volumeMounts as {
      name: string;
      mountPath: string;
    }[];
    expect(ownMounts).toContainEqual(
      expect.objectContaining({
        name: 'mcp-authz-tls-client-ca',
        mountPath: '/var/run/secrets/mcp-authz/tls-client-ca',
      }),
    );
  });

  it('NOTES.txt tries the port with https, and with a client certificate for mutual TLS', async () => {
    const plain = (await render(CHART, { ...DEPLOYMENT, notes: true })).notes;
    expect(plain).toContain('curl -si http://127.0.0.1:8080/mcp');
    const tls = (await render(CHART, { ...DEPLOYMENT, set: ['tls.secretName=mcp-tls'], notes: true })).notes;
    expect(tls).not.toContain('http://127.0.0.1:8080');
    expect(tls).toContain("curl -sik https://127.0.0.1:8080/mcp -H 'content-type: application/json'");
    expect(tls).toContain('The port speaks TLS (Secret mcp-tls)');
    expect(tls).not.toContain('--cert ');
    const mutual = (
      await render(CHART, {
        ...DEPLOYMENT,
        set: ['tls.secretName=mcp-tls', 'tls.requireClientCert=true'],
        notes: true,
      })
    ).notes;
    expect(mutual).toContain('curl -sik https://127.0.0.1:8080/mcp --cert client.crt --key client.key -H');
    expect(mutual).toContain("client.crt must be signed by the Secret's ca.crt");
  });

  it('leaves TLS off by default, and refuses mutual TLS without a Secret and server.tls set by hand', async () => {
    expect(config(deploymentMode).server.tls).toBeUndefined();
    expect(one(deploymentMode, 'Service', 'demo-mcp-authz').spec.ports[0].appProtocol).toBeUndefined();
    expect(one(deploymentMode, 'Service', 'demo-mcp-authz').spec.ports[0].name).toBe('http');
    expect(await renderError(CHART, { ...DEPLOYMENT, set: ['tls.requireClientCert=true'] })).toContain(
      'tls.requireClientCert needs tls.secretName',
    );
    expect(
      await renderError(CHART, {
        ...DEPLOYMENT,
        set: ['tls.secretName=mcp-tls', 'tls.clientCaSecretName=ca'],
      }),
    ).toContain('tls.clientCaSecretName is used only with tls.requireClientCert');
    expect(
      await renderError(CHART, {
        ...DEPLOYMENT,
        set: ['config.server.tls.certFile=/x.crt', 'config.server.tls.keyFile=/x.key'],
      }),
    ).toContain('config.server.tls is set by the chart: set tls.secretName instead');
  });
});

describe('config.yaml', () => {
  const checksum = async (opts: RenderOptions) =>
    one((await render(CHART, opts)).objects, 'Deployment').spec.template.metadata.annotations[
      'checksum/config'
    ];

  it('changing a config value changes checksum/config; other values do not', async () => {
    const base = await checksum(DEPLOYMENT);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(await checksum({ ...DEPLOYMENT, set: ['config.log.level=debug'] })).not.toBe(base);
    expect(await checksum({ ...DEPLOYMENT, set: ['secrets.apiKeyPepper.existingSecret=pepper'] })).not.toBe(
      base,
    );
    expect(
      await checksum({
        ...DEPLOYMENT,
        set: ['podAnnotations.team=payments', 'resources.limits.memory=300Mi'],
      }),
    ).toBe(base);
  });

  it('the rendered config.yaml is accepted by the sidecar’s own config parser', async () => {
    for (const objects of [deploymentMode, production, (await render(CHART)).objects]) {
      const parsed = parseConfig(config(objects), {});
      expect(parsed.upstream.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    }
  });

  it('policy sources set policy.bundle: image, URL or the mounted ConfigMap', async () => {
    expect(config(deploymentMode).policy.bundle).toBe('/app/policy/bundle.tar.gz');
    expect(config(production).policy.bundle).toBe('https://policies.example.com/bundles/crm/bundle.tar.gz');
    const { objects } = await render(CHART, { values: [join(EXAMPLES, 'sidecar-values.yaml')] });
    expect(config(objects).policy.bundle).toBe('/var/lib/mcp-authz/policy/bundle.tar.gz');
  });

  it('OTEL_* settings reach the sidecar; without them the SDK is disabled', () => {
    const env = (objects: K8sObject[]) =>
      Object.fromEntries(
        (container(one(objects, 'Deployment'), 'mcp-authz').env as { name: string; value?: string }[]).map(
          (e) => [e.name, e.value],
        ),
      );
    expect(env(deploymentMode)).toMatchObject({ OTEL_SDK_DISABLED: 'true' });
    expect(env(production)).toMatchObject({
      OTEL_SERVICE_NAME: 'demo-mcp-authz',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability.svc.cluster.local:4318',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod',
    });
    expect(env(production)).not.toHaveProperty('OTEL_SDK_DISABLED');
  });
});
