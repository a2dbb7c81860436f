/**
 * The chart renders for its default values, for each documented mode and example, and for every optional
 * feature switched on; every object it renders validates against the Kubernetes API schemas
 * (kubernetes-models) or, for Prometheus Operator objects, the CRD fields the chart uses.
 *
 * @module
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  all,
  CHART,
  container,
  EXAMPLES,
  ensureRenderer,
  type K8sObject,
  one,
  type Rendered,
  render,
  validateObject,
  withDependency,
} from './render.js';

/** Every optional object at once. */
const EVERYTHING = [
  'mode=deployment',
  'mcpServer.image.repository=example/mcp',
  'mcpServer.image.tag=1.2.3',
  'redis.url=redis://redis:6379',
  'secrets.apiKeyPepper.existingSecret=authz',
  'secrets.jwtHsSecret.existingSecret=authz',
  'secrets.redisPassword.existingSecret=authz',
  'config.authn.jwt.algorithms={HS256}',
  'config.authn.resource=https://mcp.example.com/mcp',
  'autoscaling.enabled=true',
  'mcpServer.resources.requests.cpu=100m',
  'metrics.serviceMonitor.enabled=true',
  'metrics.prometheusRule.enabled=true',
  'metrics.dashboard.enabled=true',
  'otel.enabled=true',
  'otel.endpoint=http://otel-collector:4318',
  'policy.source=configMap',
];

const cases: { name: string; render: () => Promise<Rendered>; kinds: string[] }[] = [
  { name: 'default values (sidecar mode)', render: () => render(CHART), kinds: ['ConfigMap'] },
  {
    name: 'examples/deployment-values.yaml',
    render: () => render(CHART, { values: [join(EXAMPLES, 'deployment-values.yaml')] }),
    kinds: ['ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'],
  },
  {
    name: 'examples/production-values.yaml',
    render: () => render(CHART, { values: [join(EXAMPLES, 'production-values.yaml')] }),
    kinds: [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'PrometheusRule',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ],
  },
  {
    name: 'examples/sidecar-values.yaml',
    render: () => render(CHART, { values: [join(EXAMPLES, 'sidecar-values.yaml')] }),
    kinds: ['ConfigMap', 'NetworkPolicy'],
  },
  {
    name: 'every optional object',
    render: () =>
      render(CHART, {
        set: EVERYTHING,
        setString: ['policy.configMap.binaryFiles.bundle\\.tar\\.gz=H4sIAAAAAAAAAwMAAAAAAAAAAAA='],
      }),
    kinds: [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'PrometheusRule',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ],
  },
];

beforeAll(async () => {
  await ensureRenderer();
}, 600_000);

describe('chart renders and validates against the Kubernetes schemas', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { objects } = await c.render();
      expect([...new Set(objects.map((o) => o.kind))].sort()).toEqual(c.kinds);
      expect(objects.flatMap(validateObject)).toEqual([]);
      for (const o of objects) {
        expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('mcp');
        expect(o.metadata.labels?.['app.kubernetes.io/name']).toBe('mcp-authz');
      }
    });
  }

  it('keeps every Service name within 63 characters under the longest release name Helm takes (53)', async () => {
    const release = 'payments-platform-customer-records-mcp-production-eu1';
    expect(release).toHaveLength(53);
    const { objects } = await render(CHART, {
      release,
      values: [join(EXAMPLES, 'production-values.yaml')],
    });
    const services = all(objects, 'Service');
    expect(services.map((o) => o.metadata.name)).toContain(
      'payments-platform-customer-records-mcp-production-eu1-m-metrics',
    );
    expect(services.flatMap(validateObject)).toEqual([]);
  });

  it('examples/own-chart: a chart of your own gets the sidecar from the named templates', async () => {
    const parent = await withDependency(join(EXAMPLES, 'own-chart'));
    try {
      const { objects, sources } = await render(parent.dir);
      expect(objects.flatMap(validateObject)).toEqual([]);
      expect(sources).toContain('my-mcp-server/charts/mcp-authz/templates/configmap.yaml');
      const deployment = one(objects, 'Deployment');
      expect(deployment.metadata.name).toBe('demo-my-mcp-server');
      const names = (deployment.spec.template.spec.containers as { name: string }[]).map((x) => x.name);
      expect(names).toEqual(['my-mcp-server', 'mcp-authz']);
      // The sidecar mounts the ConfigMap the subchart rendered, and the checksum is of that config.
      const configMap = one(objects, 'ConfigMap');
      const volumes = deployment.spec.template.spec.volumes as {
        name: string;
        configMap?: { name: string };
      }[];
      expect(volumes.find((v) => v.name === 'mcp-authz-config')?.configMap?.name).toBe(
        configMap.metadata.name,
      );
      const config = parse(configMap.data['config.yaml']);
      expect(config.upstream.url).toBe('http://127.0.0.1:3000/mcp');
      expect(deployment.spec.template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      // The parent's Service targets the sidecar's port by name; the NetworkPolicy selects the parent's pods.
      expect(one(objects, 'Service').spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual([
        'http',
      ]);
      expect(
        container(deployment, 'mcp-authz').ports.find((p: { name: string }) => p.name === 'http'),
      ).toBeTruthy();
      expect(one(objects, 'NetworkPolicy').spec.podSelector.matchLabels).toEqual({
        'app.kubernetes.io/name': 'my-mcp-server',
      });
      // Signalled with the sidecar, the server waits while it drains (5 s delay + 10 s grace, plus 2 s).
      expect(container(deployment, 'my-mcp-server').lifecycle).toEqual({
        preStop: { sleep: { seconds: 17 } },
      });
    } finally {
      await parent.cleanup();
    }
  });

  it('has the MCP server wait in preStop while the sidecar drains, unless a lifecycle of its own is given', async () => {
    const server = async (extra: string[]) => {
      const out = await render(CHART, {
        set: ['mode=deployment', 'mcpServer.image.repository=x/y', ...extra],
        setString: ['mcpServer.image.tag=1.0'],
      });
      const deployment = out.objects.find((o) => o.kind === 'Deployment') as unknown as {
        spec: { template: { spec: { containers: { name: string; lifecycle?: unknown }[] } } };
      };
      return deployment.spec.template.spec.containers.find((c) => c.name === 'mcp-server');
    };
    // The sidecar's ports are set explicitly: a Service named authz would otherwise set AUTHZ_PORT=tcp://….
    const out = await render(CHART, {
      set: ['mode=deployment', 'mcpServer.image.repository=x/y'],
      setString: ['mcpServer.image.tag=1.0'],
    });
    expect(out.text).toMatch(/- name: AUTHZ_PORT\n\s+value: "8080"/);
    expect(out.text).toMatch(/- name: AUTHZ_ADMIN_PORT\n\s+value: "9090"/);
    // The default drain: shutdownDelayMs 5 s + shutdownGraceMs 10 s, + 2 s to end streams and close the pool.
    expect((await server([]))?.lifecycle).toEqual({ preStop: { sleep: { seconds: 17 } } });
    expect(
      (await server(['config.server.shutdownGraceMs=20500', 'terminationGracePeriodSeconds=40']))?.lifecycle,
    ).toEqual({
      preStop: { sleep: { seconds: 28 } },
    });
    expect((await server(['mcpServer.waitForSidecarOnStop=false']))?.lifecycle).toBeUndefined();
    expect((await server(['mcpServer.lifecycle.postStart.exec.command={echo}']))?.lifecycle).toEqual({
      postStart: { exec: { command: ['echo'] } },
    });
  });

  it('a Recreate strategy carries no rollingUpdate (values.yaml has one, which the API server would refuse)', async () => {
    const strategy = async (opts: { set?: string[]; values?: string[] }) => {
      const out = await render(CHART, {
        values: [join(EXAMPLES, 'deployment-values.yaml'), ...(opts.values ?? [])],
        set: opts.set ?? [],
      });
      return one(out.objects, 'Deployment').spec.strategy;
    };
    expect(await strategy({})).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(await strategy({ set: ['strategy.type=Recreate'] })).toEqual({ type: 'Recreate' });
    const dir = await mkdtemp(join(tmpdir(), 'chart-values-'));
    try {
      const file = join(dir, 'recreate.yaml');
      await writeFile(file, 'strategy:\n  type: Recreate\n');
      expect(await strategy({ values: [file] })).toEqual({ type: 'Recreate' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('NOTES.txt renders for both modes', async () => {
    const sidecar = await render(CHART, { notes: true });
    expect(sidecar.notes).toContain('Sidecar mode');
    const deployment = await render(CHART, {
      values: [join(EXAMPLES, 'deployment-values.yaml')],
      notes: true,
    });
    expect(deployment.notes).toContain('kubectl -n mcp port-forward svc/demo-mcp-authz 8080:80');
    expect(deployment.notes).toContain('401');
    // That example turns API keys off: no note about their pepper. With keys on and no pepper, the note.
    expect(deployment.notes).not.toContain('API keys are refused');
    expect(sidecar.notes).toContain('API keys are refused until secrets.apiKeyPepper.existingSecret');
  });

  it('NOTES.txt in sidecar mode lists what was rendered, and knows a pepper given in extraEnv', async () => {
    const only = await render(CHART, { notes: true });
    expect(only.notes).toContain('rendered no workload, only:\n  - ConfigMap demo-mcp-authz-config');
    expect(only.notes).not.toMatch(/NetworkPolicy demo|PrometheusRule|dashboard/);
    const more = await render(CHART, {
      notes: true,
      set: [
        'networkPolicy.podSelector.app=my-mcp',
        'metrics.prometheusRule.enabled=true',
        'metrics.dashboard.enabled=true',
        'extraEnv[0].name=AUTHZ_API_KEY_PEPPER',
        'extraEnv[0].valueFrom.secretKeyRef.name=pepper',
        'extraEnv[0].valueFrom.secretKeyRef.key=pepper',
      ],
    });
    const listed = more.notes.match(/^ {2}- (\S+ \S+)/gm)?.map((l) => l.slice(4));
    expect(listed).toEqual([
      'ConfigMap demo-mcp-authz-config',
      'NetworkPolicy demo-mcp-authz',
      'PrometheusRule demo-mcp-authz',
      'ConfigMap demo-mcp-authz-dashboard',
    ]);
    // ... which is what the release holds.
    expect([...(listed ?? [])].sort()).toEqual(
      more.objects.map((o) => `${o.kind} ${o.metadata.name}`).sort(),
    );
    expect(more.notes).not.toContain('API keys are refused');
  });

  it('the Grafana dashboard ConfigMap carries the dashboard JSON with the documented metrics', async () => {
    const { objects } = await render(CHART, { set: ['metrics.dashboard.enabled=true'] });
    const cm = one(objects, 'ConfigMap', 'demo-mcp-authz-dashboard');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(cm.data['mcp-authz.json']);
    const exprs = JSON.stringify(dashboard.panels);
    for (const metric of [
      'mcp_authz_decisions_total',
      'mcp_authz_requests_total',
      'mcp_authz_decision_duration_seconds_bucket',
      'mcp_authz_stage_duration_seconds_bucket',
      'mcp_authz_authn_failures_total',
      'mcp_authz_ratelimit_rejections_total',
      'mcp_authz_policy_reloads_total',
      'mcp_authz_policy_revision_info',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
    const titles = (dashboard.panels as { title: string }[]).map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of [
      'decisions',
      'denials by reason',
      'latency',
      '429',
      'authentication failures',
      'reload',
    ]) {
      expect(titles).toContain(topic);
    }
  });

  it('the PrometheusRule carries the rules of alerts/mcp-authz-rules.yaml, plus rules of your own', async () => {
    const { objects } = await render(CHART, {
      set: [
        'metrics.prometheusRule.enabled=true',
        'metrics.prometheusRule.additionalRules[0].alert=MyAlert',
        'metrics.prometheusRule.additionalRules[0].expr=up == 0',
      ],
    });
    const groups = one(objects, 'PrometheusRule').spec.groups as {
      name: string;
      rules: { alert?: string; expr: string }[];
    }[];
    const file = parse(await readFile(join(CHART, 'alerts', 'mcp-authz-rules.yaml'), 'utf8'));
    expect(groups.slice(0, -1)).toEqual(file.groups);
    expect(groups.at(-1)).toEqual({
      name: 'mcp-authz.custom',
      rules: [{ alert: 'MyAlert', expr: 'up == 0' }],
    });
    const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toContain('MCPAuthzPolicyReloadFailing');
    for (const g of groups.slice(0, -1)) for (const r of g.rules) expect(r.expr).toMatch(/mcp_authz_[a-z_]+/);
  });
});

describe('renderer faithfulness', () => {
  it('reports which renderer ran', async () => {
    const r = await ensureRenderer();
    expect(['helm', 'helm-render']).toContain(r.kind);
  });

  it('--set-file puts a file into a value, --set-string keeps strings', async () => {
    const { objects } = await render(CHART, {
      set: ['policy.source=configMap', 'policy.configMap.bundleFile='],
      setFile: [
        `policy.configMap.files.data\\.json=${join(EXAMPLES, '..', 'dashboards', 'mcp-authz.json')}`,
        `policy.configMap.files.\\.manifest=${join(CHART, 'Chart.yaml')}`,
      ],
      setString: ['policy.configMap.binaryFiles.policy\\.wasm=AGFzbQ=='],
    });
    const cm: K8sObject = one(objects, 'ConfigMap', 'demo-mcp-authz-policy');
    expect(JSON.parse(cm.data['data.json']).uid).toBe('mcp-authz');
    expect(cm.binaryData['policy.wasm']).toBe('AGFzbQ==');
    const config = parse(one(objects, 'ConfigMap', 'demo-mcp-authz-config').data['config.yaml']);
    expect(config.policy.bundle).toBe('/var/lib/mcp-authz/policy');
  });

  it('values files merge in order and --set wins', async () => {
    const { objects } = await render(CHART, {
      values: [join(EXAMPLES, 'deployment-values.yaml'), join(EXAMPLES, 'production-values.yaml')],
      set: ['autoscaling.maxReplicas=9'],
    });
    const hpa = one(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.maxReplicas).toBe(9);
    const config = parse(one(objects, 'ConfigMap', 'demo-mcp-authz-config').data['config.yaml']);
    // deep merge: the JWT settings of the second file, the HS secret path from the first file's secrets
    expect(config.authn.jwt.jwksUri).toContain('login.example.com');
    expect(config.authn.jwt.hsSecretFile).toBe('/var/run/secrets/mcp-authz/jwt-hs-secret/secret');
  });
});
