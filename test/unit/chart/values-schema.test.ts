/**
 * values.schema.json: generated from the chart's value descriptions and the sidecar's config schema (R4), up to
 * date, accepting every documented values file and rejecting bad values with a clear message — both when
 * checked with a JSON Schema validator (ajv) and when the chart renders (Helm validates values against the
 * schema before rendering). The `validate` template fails on what the schema cannot express.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { register as registerConfigCheck } from '../../../src/cli/config-check.js';
import { cliRun } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { CHART, EXAMPLES, ensureRenderer, ROOT, render, renderError } from './render.js';

let validate: ValidateFunction;

beforeAll(async () => {
  const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('uri', /^[a-z][a-z0-9+.-]*:\S+$/i);
  validate = ajv.compile(schema);
  await ensureRenderer();
}, 600_000);

const readValues = async (file: string) => parse(await readFile(file, 'utf8'));
const errors = (values: unknown): ErrorObject[] => (validate(values) ? [] : (validate.errors ?? []));

describe('values.schema.json', () => {
  it('is generated from schema/config.json and up to date (node scripts/generate-chart-schema.mjs)', async () => {
    const res = await new Promise<{ code: number; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [join(ROOT, 'scripts', 'generate-chart-schema.mjs'), '--check'],
        (err, _o, stderr) => done({ code: err ? 1 : 0, stderr }),
      ),
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });

  it('accepts the default values and every example', async () => {
    expect(errors(await readValues(join(CHART, 'values.yaml')))).toEqual([]);
    for (const f of ['deployment-values.yaml', 'production-values.yaml', 'sidecar-values.yaml']) {
      expect(errors(await readValues(join(EXAMPLES, f))), f).toEqual([]);
    }
    const ownChart = await readValues(join(EXAMPLES, 'own-chart', 'values.yaml'));
    expect(errors(ownChart['mcp-authz'])).toEqual([]);
  });

  it('rejects a bad value, naming the field and what it should be', async () => {
    expect(errors({ replicaCount: 'three' })).toMatchObject([
      { instancePath: '/replicaCount', message: 'must be integer' },
    ]);
    expect(errors({ mode: 'daemonset' })[0]).toMatchObject({ instancePath: '/mode', keyword: 'enum' });
    // A probe path the admin server does not answer would keep the pod from ever being ready.
    expect(errors({ probes: { readiness: { path: '/ready' } } })[0]).toMatchObject({
      instancePath: '/probes/readiness/path',
      keyword: 'enum',
    });
    expect(errors({ probes: { readiness: { path: '/healthz/ready' } } })).toEqual([]);
    expect(errors({ replicas: 2 })[0]).toMatchObject({
      keyword: 'additionalProperties',
      params: { additionalProperty: 'replicas' },
    });
    // config is checked against the sidecar's own schema: an unknown log level, an unknown key
    expect(errors({ config: { log: { level: 'loud' } } })[0]).toMatchObject({
      instancePath: '/config/log/level',
      keyword: 'enum',
    });
    expect(errors({ config: { server: { prot: 1 } } })[0]).toMatchObject({ instancePath: '/config/server' });
  });

  it("takes Sentinel and Cluster Redis URLs, a parent chart's enabled switch, and only string image tags", () => {
    for (const url of ['redis+sentinel://s:26379/mymaster', 'redis+cluster://c:6379', 'rediss://r:6380']) {
      expect(errors({ redis: { url } }), url).toEqual([]);
    }
    expect(errors({ enabled: true })).toEqual([]);
    // Helm reads an unquoted 1.10 as 1.1: a number is refused, so the tag is quoted.
    expect(errors({ image: { tag: 1.1 } })[0]).toMatchObject({
      instancePath: '/image/tag',
      message: 'must be string',
    });
    expect(errors({ image: { tag: '1.10' } })).toEqual([]);
  });

  it('takes only Kubernetes quantities as tmpSizeLimit', () => {
    for (const tmpSizeLimit of ['64Mi', '1Gi', '1.5Gi', '500M', '128974848', '129e6', '100k', 67108864]) {
      expect(errors({ tmpSizeLimit }), String(tmpSizeLimit)).toEqual([]);
    }
    // MB, Mb and mi are not Kubernetes suffixes: the API server would refuse the Deployment.
    for (const tmpSizeLimit of ['64MB', '64mi', '64Mb', 'Mi', '1.2.3Mi', '64 Mi', '']) {
      expect(errors({ tmpSizeLimit })[0], tmpSizeLimit).toMatchObject({
        instancePath: '/tmpSizeLimit',
        keyword: 'pattern',
      });
    }
  });

  it('takes an mcpServer.path without a query or fragment (upstream.url refuses them)', () => {
    expect(errors({ mcpServer: { path: '/v1/mcp' } })).toEqual([]);
    for (const path of ['/mcp?tenant=acme', '/mcp#x', 'mcp']) {
      expect(errors({ mcpServer: { path } })[0], path).toMatchObject({
        instancePath: '/mcpServer/path',
        keyword: 'pattern',
      });
    }
  });

  it('the chart refuses to render with a bad value, with a message naming the field', async () => {
    const typeError = await renderError(CHART, { set: ['replicaCount=three'] });
    expect(typeError).toMatch(/values don't meet the specifications of the schema/);
    expect(typeError).toMatch(/replicaCount/);
    expect(typeError).toMatch(/integer/);
    const configError = await renderError(CHART, { set: ['config.log.level=loud'] });
    expect(configError).toMatch(/config[./]log[./]level/);
    const typo = await renderError(CHART, { set: ['replicas=2'] });
    expect(typo).toMatch(/replicas/);
  });
});

describe('validate template: cross-field checks fail with a message', () => {
  const deployment = join(EXAMPLES, 'deployment-values.yaml');
  const cases: [string, string[], string][] = [
    [
      'deployment mode without an MCP server image',
      ['mode=deployment'],
      'mcpServer.image.repository is required',
    ],
    [
      'deployment mode without an MCP server tag or digest',
      ['mode=deployment', 'mcpServer.image.repository=x'],
      'mcpServer.image.tag or mcpServer.image.digest is required in deployment mode',
    ],
    [
      'a config key the chart owns',
      ['config.upstream.url=http://127.0.0.1:1/mcp'],
      'config.upstream.url is set by the chart: set mcpServer.host/port/path instead',
    ],
    [
      'an HS algorithm without its secret',
      ['config.authn.jwt.algorithms={HS256}'],
      'set secrets.jwtHsSecret.existingSecret',
    ],
    [
      'several replicas on the in-memory store',
      ['mode=deployment', 'mcpServer.image.repository=x', 'mcpServer.image.tag=v1', 'replicaCount=3'],
      'set redis.url',
    ],
    ['policy from a URL without one', ['policy.source=url'], 'policy.url must be an http(s) URL'],
    [
      'extraEnv overriding a port the probes use',
      ['extraEnv[0].name=AUTHZ_ADMIN_PORT', 'extraEnv[0].value=9100'],
      'extraEnv AUTHZ_ADMIN_PORT is set by the chart',
    ],
    [
      'extraEnv OTLP settings while OpenTelemetry is off',
      ['extraEnv[0].name=OTEL_EXPORTER_OTLP_ENDPOINT', 'extraEnv[0].value=http://c:4318'],
      'has no effect while otel.enabled is false',
    ],
    [
      'JWTs verified without a resource to bind them to',
      [
        'config.authn.jwt.jwksUri=https://idp.example.com/jwks',
        'config.authn.jwt.issuers={https://idp.example.com}',
      ],
      'config.authn.resource',
    ],
    [
      'autoscaling without a CPU request on the MCP server',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'redis.url=redis://r:6379',
        'autoscaling.enabled=true',
      ],
      'set mcpServer.resources.requests.cpu',
    ],
    [
      'autoscaling on memory with a CPU request only',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'redis.url=redis://r:6379',
        'autoscaling.enabled=true',
        'autoscaling.targetMemoryUtilizationPercentage=80',
        'mcpServer.resources.requests.cpu=100m',
      ],
      'autoscaling.targetMemoryUtilizationPercentage needs a memory request on every container of the pod to compute memory utilisation: set mcpServer.resources.requests.memory',
    ],
    [
      'autoscaling without a request on the sidecar',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'redis.url=redis://r:6379',
        'autoscaling.enabled=true',
        'mcpServer.resources.requests.cpu=100m',
        'resources.requests=null',
      ],
      'autoscaling.targetCPUUtilizationPercentage needs a CPU request on every container of the pod to compute CPU utilisation: set resources.requests.cpu',
    ],
    [
      'autoscaling with no target (the HPA defaults to CPU) without a CPU request',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'redis.url=redis://r:6379',
        'autoscaling.enabled=true',
        'autoscaling.targetCPUUtilizationPercentage=null',
        'mcpServer.resources.requests.memory=128Mi',
      ],
      'with no target set the HPA targets 80% CPU',
    ],
    [
      'a termination grace period shorter than the drain',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'config.server.shutdownGraceMs=60000',
      ],
      "terminationGracePeriodSeconds (30) must be at least 72: the MCP server's preStop wait (67 s: config.server.shutdownDelayMs + shutdownGraceMs, rounded up to whole seconds, + 2 s) + 5 s for the server to stop after its own SIGTERM",
    ],
    [
      // 20 s holds the drain (15 s) + 5 s, but leaves the server 3 s after its preStop wait of 17 s.
      'a termination grace period that leaves the MCP server under 5 s after its preStop wait',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'terminationGracePeriodSeconds=20',
      ],
      'terminationGracePeriodSeconds (20) must be at least 22:',
    ],
    ['policy from a ConfigMap without content', ['policy.source=configMap'], 'policy.configMap.existingName'],
    ['colliding ports', ['mcpServer.port=8080'], 'collides with the sidecar'],
    [
      'a loopback listener for the sidecar',
      ['config.server.host=127.0.0.1'],
      'config.server.host must not be a loopback',
    ],
    [
      'a JWKS URL without issuers',
      ['config.authn.jwt.jwksUri=https://idp.example.com/jwks'],
      'config.authn.jwt.jwksUri needs config.authn.jwt.issuers',
    ],
    ['OpenTelemetry without an endpoint', ['otel.enabled=true'], 'otel.enabled needs otel.endpoint'],
    [
      "a pod label that repeats the Deployment's selector",
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'podLabels.app\\.kubernetes\\.io/instance=other',
      ],
      "podLabels.app.kubernetes.io/instance is the Deployment's selector label",
    ],
    [
      'a common label the chart sets',
      ['commonLabels.app\\.kubernetes\\.io/part-of=shop'],
      'commonLabels.app.kubernetes.io/part-of is set by the chart',
    ],
    [
      'a common label the metrics Service sets',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'metrics.serviceMonitor.enabled=true',
        'commonLabels.app\\.kubernetes\\.io/component=web',
      ],
      'commonLabels.app.kubernetes.io/component is set by the chart',
    ],
    [
      'a ServiceMonitor label that repeats a common label',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'metrics.serviceMonitor.enabled=true',
        'commonLabels.team=a',
        'metrics.serviceMonitor.labels.team=b',
      ],
      'metrics.serviceMonitor.labels.team repeats commonLabels.team',
    ],
    [
      'a PodDisruptionBudget whose minAvailable is every replica (drains would hang)',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'podDisruptionBudget.minAvailable=1',
      ],
      'podDisruptionBudget.minAvailable 1 leaves no pod of 1 evictable',
    ],
    [
      'a PodDisruptionBudget whose minAvailable percentage rounds up to every replica (50% of 1)',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'podDisruptionBudget.minAvailable=50%',
      ],
      'podDisruptionBudget.minAvailable 50% leaves no pod of 1 evictable',
    ],
    [
      'a PodDisruptionBudget whose minAvailable percentage rounds up to every replica (60% of 2)',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'replicaCount=2',
        'redis.allowInMemoryWithReplicas=true',
        'podDisruptionBudget.minAvailable=60%',
      ],
      'podDisruptionBudget.minAvailable 60% leaves no pod of 2 evictable',
    ],
    [
      'a PodDisruptionBudget with maxUnavailable 0',
      [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'podDisruptionBudget.maxUnavailable=0',
      ],
      'podDisruptionBudget.maxUnavailable 0 leaves no pod evictable',
    ],
  ];
  for (const [name, set, message] of cases) {
    it(name, async () => {
      const error = await renderError(CHART, { set });
      expect(error).toContain('mcp-authz: invalid values');
      expect(error).toContain(message);
    });
  }

  it("takes a termination grace period of the MCP server's preStop wait + 5 s, as the docs say", async () => {
    const base = ['mode=deployment', 'mcpServer.image.repository=x', 'mcpServer.image.tag=v1'];
    const sleep = async (set: string[]) => {
      const out = await render(CHART, { set: [...base, ...set] });
      const deployment = out.objects.find((o) => o.kind === 'Deployment') as unknown as {
        spec: { template: { spec: { containers: { name: string; lifecycle?: PreStop }[] } } };
      };
      const server = deployment.spec.template.spec.containers.find((c) => c.name === 'mcp-server');
      return server?.lifecycle?.preStop.sleep.seconds;
    };
    type PreStop = { preStop: { sleep: { seconds: number } } };
    expect(await sleep(['terminationGracePeriodSeconds=22'])).toBe(17);
    // A drain of 25.5 s: a preStop wait of 28 s (rounded up, + 2 s), so 33 s.
    const longer = 'config.server.shutdownGraceMs=20500';
    expect(await sleep([longer, 'terminationGracePeriodSeconds=33'])).toBe(28);
    expect(
      await renderError(CHART, { set: [...base, longer, 'terminationGracePeriodSeconds=32'] }),
    ).toContain(
      "terminationGracePeriodSeconds (32) must be at least 33: the MCP server's preStop wait (28 s:",
    );
  });

  it('takes a PodDisruptionBudget that leaves a pod evictable', async () => {
    const base = ['mode=deployment', 'mcpServer.image.repository=x', 'mcpServer.image.tag=v1'];
    for (const set of [
      [...base],
      [
        ...base,
        'replicaCount=3',
        'redis.allowInMemoryWithReplicas=true',
        'podDisruptionBudget.minAvailable=2',
      ],
      [
        ...base,
        'replicaCount=2',
        'redis.allowInMemoryWithReplicas=true',
        'podDisruptionBudget.minAvailable=50%',
      ],
      [
        ...base,
        'replicaCount=3',
        'redis.allowInMemoryWithReplicas=true',
        'podDisruptionBudget.minAvailable=66%',
      ],
      // Scaled to zero: there is no pod for a drain to wait on.
      [...base, 'replicaCount=0', 'podDisruptionBudget.minAvailable=50%'],
      [...base, 'replicaCount=0', 'podDisruptionBudget.minAvailable=1'],
      [
        ...base,
        'autoscaling.enabled=true',
        'autoscaling.minReplicas=2',
        'redis.allowInMemoryWithReplicas=true',
        'mcpServer.resources.requests.cpu=100m',
        'podDisruptionBudget.minAvailable=1',
      ],
    ]) {
      const out = await render(CHART, { set });
      expect(out.objects.some((o) => o.kind === 'PodDisruptionBudget')).toBe(true);
    }
  });

  it('checks only the labels of objects it renders', async () => {
    // The dashboard is off by default, so its default grafana_dashboard label is not there to repeat; in
    // sidecar mode there is no metrics Service to own app.kubernetes.io/component.
    const out = await render(CHART, {
      set: [
        'commonLabels.grafana_dashboard=yes',
        'commonLabels.app\\.kubernetes\\.io/component=authz',
        'commonLabels.release=p',
        'metrics.serviceMonitor.labels.release=p',
      ],
    });
    expect(out.objects.length).toBeGreaterThan(0);
  });

  it('accepts an MCP server repository that carries its own tag or digest', async () => {
    for (const repo of ['example/mcp:1.4', `example/mcp@sha256:${'a'.repeat(64)}`, 'registry:5000/mcp:2']) {
      const out = await render(CHART, { set: ['mode=deployment', `mcpServer.image.repository=${repo}`] });
      const deployment = out.objects.find((o) => o.kind === 'Deployment') as
        | { spec: { template: { spec: { containers: { image: string }[] } } } }
        | undefined;
      expect(deployment?.spec.template.spec.containers.map((c) => c.image)).toContain(repo);
    }
    // A registry port is not a tag.
    const error = await renderError(CHART, {
      set: ['mode=deployment', 'mcpServer.image.repository=registry:5000/mcp'],
    });
    expect(error).toContain('mcpServer.image.tag or mcpServer.image.digest is required');
  });

  it('refuses a loopback look-alike as mcpServer.host', async () => {
    for (const host of ['127.evil.example', '127.0.0.1.evil.example']) {
      const error = await renderError(CHART, { set: [`mcpServer.host=${host}`] });
      expect(error).toContain('mcpServer.host must be a loopback address');
    }
  });

  it('renders values as YAML strings, so a value cannot add fields (hostNetwork, probe hosts)', async () => {
    const out = await render(CHART, {
      set: [
        'mode=deployment',
        'mcpServer.image.repository=example/mcp',
        'mcpServer.image.tag=1.2.3',
        'priorityClassName=high\n      hostNetwork: true',
      ],
    });
    const deployment = out.objects.find((o) => o.kind === 'Deployment') as
      | { spec: { template: { spec: Record<string, unknown> } } }
      | undefined;
    expect(deployment?.spec.template.spec.hostNetwork).toBeUndefined();
    expect(deployment?.spec.template.spec.priorityClassName).toBe('high\n      hostNetwork: true');
  });

  it('takes the issuers from extraEnv AUTHZ_JWT_ISSUERS as well', async () => {
    const out = await render(CHART, {
      set: [
        'config.authn.jwt.jwksUri=https://idp.example.com/jwks',
        'extraEnv[0].name=AUTHZ_JWT_ISSUERS',
        'extraEnv[0].value=https://idp.example.com',
        'extraEnv[1].name=AUTHZ_RESOURCE',
        'extraEnv[1].value=https://mcp.example.com/mcp',
      ],
    });
    expect(out.objects.some((o) => o.kind === 'ConfigMap')).toBe(true);
  });

  it('autoscales on memory alone with memory requests, and needs no CPU request for it', async () => {
    const { objects } = await render(CHART, {
      set: [
        'mode=deployment',
        'mcpServer.image.repository=x',
        'mcpServer.image.tag=v1',
        'redis.url=redis://r:6379',
        'autoscaling.enabled=true',
        'autoscaling.targetCPUUtilizationPercentage=null',
        'autoscaling.targetMemoryUtilizationPercentage=75',
        'mcpServer.resources.requests.memory=128Mi',
      ],
    });
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec.metrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 75 } },
      },
    ]);
  });

  it('takes the JWT HS secret from extraEnv AUTHZ_JWT_HS_SECRET as well', async () => {
    const hs = [
      'config.authn.jwt.algorithms={HS256}',
      'extraEnv[0].name=AUTHZ_JWT_HS_SECRET',
      'extraEnv[0].valueFrom.secretKeyRef.name=jwt',
      'extraEnv[0].valueFrom.secretKeyRef.key=secret',
    ];
    const out = await render(CHART, { set: [...hs, 'config.authn.resource=https://mcp.example.com/mcp'] });
    expect(out.objects.some((o) => o.kind === 'ConfigMap')).toBe(true);
    // Those JWTs are verified, so they must be bound to this server like any other.
    const error = await renderError(CHART, { set: hs });
    expect(error).toContain('config.authn.resource');
    expect(error).not.toContain('secrets.jwtHsSecret.existingSecret');
  });

  it('lists every problem at once', async () => {
    const error = await renderError(CHART, {
      values: [deployment],
      set: ['mcpServer.host=0.0.0.0', 'policy.source=url', 'otel.enabled=true'],
    });
    expect(error.match(/^ {2}- /gm)).toHaveLength(3);
  });
});

describe('a rendered config.yaml checked by config check --schema-only', () => {
  // values.schema.json holds the config's structure; what the sidecar's loader checks beyond it (a time zone,
  // paths that must differ, a header it may not read keys from) only config check can tell before a rollout.
  const renderedConfig = async (set: string[]) => {
    const { objects } = await render(CHART, { values: [join(EXAMPLES, 'deployment-values.yaml')], set });
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['config.yaml']);
    const file = join(tempDir('chart-config'), 'config.yaml');
    writeFileSync(file, configMap?.data['config.yaml'] as string);
    return file;
  };
  const check = async (file: string) => {
    const c = cliRun(registerConfigCheck);
    await c.run('config', 'check', '--schema-only', '-c', file);
    return { out: c.out.join(''), err: c.err.join(''), exits: c.exits };
  };

  it('passes the example deployment, whose secret files exist only in the pod', async () => {
    const r = await check(await renderedConfig([]));
    expect(r.exits, r.err).toEqual([]);
    expect(r.out).toContain('configuration OK (schema only');
  });

  for (const [set, message] of [
    ['config.policy.timezone=Europe/Berln', 'policy.timezone'],
    ['config.server.mcpPath=/sse', 'MCP and legacy SSE paths must differ'],
    ['config.authn.apiKeys.header=Authorization', 'authn.apiKeys.header'],
  ] as const) {
    it(`refuses what the chart renders but the sidecar would not start on: ${set}`, async () => {
      const r = await check(await renderedConfig([set]));
      expect(r.exits).toEqual([1]);
      expect(r.err).toContain(message);
    });
  }
});
