#!/usr/bin/env node
/**
 * Writes the Helm chart's `charts/mcp-authz/values.schema.json`: the chart's own values, hand-described below,
 * with `config` (the sidecar's config.yaml) taken from the generated `schema/config.json` (R4), converted to
 * JSON Schema draft-07, which every Helm 3 release validates (Helm before 3.18 uses gojsonschema, which knows
 * drafts 4 to 7 only). The chart tests fail when the committed file differs from what this writes.
 *
 * CLI: node scripts/generate-chart-schema.mjs [--check]   (--check: exit 1 if the file is out of date)
 * API: chartValuesSchema() → the schema object; renderChartValuesSchema() → the file's text.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CONFIG_SCHEMA = join(ROOT, 'schema', 'config.json');
export const VALUES_SCHEMA = join(ROOT, 'charts', 'mcp-authz', 'values.schema.json');

/** Keywords that exist only after draft-07; the conversion refuses them rather than silently dropping them. */
const NEWER_KEYWORDS = new Set([
  '$defs',
  'prefixItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  'dependentRequired',
  'dependentSchemas',
  '$dynamicRef',
  '$dynamicAnchor',
  '$anchor',
]);
/** Formats draft-07 defines; zod adds others (e.g. starts_with, always next to a `pattern` that checks it). */
const STANDARD_FORMATS = new Set([
  'date-time',
  'date',
  'time',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'regex',
]);

/** @param {unknown} node @param {string} at @returns {unknown} */
function toDraft07(node, at) {
  if (Array.isArray(node)) return node.map((n, i) => toDraft07(n, `${at}/${i}`));
  if (node === null || typeof node !== 'object') return node;
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (NEWER_KEYWORDS.has(key))
      throw new Error(`schema/config.json uses ${key} at ${at}, which draft-07 lacks`);
    if (key === 'format' && typeof value === 'string' && !STANDARD_FORMATS.has(value)) continue;
    // `properties`/`default` hold names and data, not schemas: copy them without treating keys as keywords.
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, toDraft07(sub, `${at}/properties/${name}`)]),
      );
    } else if (key === 'default' || key === 'enum' || key === 'const' || key === 'examples') {
      out[key] = value;
    } else {
      out[key] = toDraft07(value, `${at}/${key}`);
    }
  }
  return out;
}

/** The sidecar config schema as a draft-07 subschema (root metadata removed). */
function configSchema() {
  const raw = JSON.parse(readFileSync(CONFIG_SCHEMA, 'utf8'));
  const { $schema: _s, $comment: _c, title: _t, ...rest } = raw;
  return {
    ...toDraft07(rest, '#'),
    description:
      "The sidecar's config.yaml (docs/configuration.md). upstream.url, policy.bundle, store.redisUrl and the secret " +
      'file paths are set by the chart from mcpServer, policy, redis and secrets.',
  };
}

// ---------------------------------------------------------------------------------------------- building blocks

const str = (description, extra = {}) => ({
  type: 'string',
  ...(description ? { description } : {}),
  ...extra,
});
const bool = (description) => ({ type: 'boolean', ...(description ? { description } : {}) });
const int = (description, minimum = 0, maximum) => ({
  type: 'integer',
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
  ...(description ? { description } : {}),
});
const port = (description) => int(description, 1, 65535);
/** A Kubernetes object or list passed through verbatim (checked by the API server, not here). */
const k8sObject = (description) => ({ type: 'object', description });
const k8sList = (description) => ({ type: 'array', items: { type: 'object' }, description });
const stringMap = (description) => ({
  type: 'object',
  additionalProperties: { type: 'string' },
  description,
});
/** @param {Record<string, unknown>} properties @param {string} [description] @param {string[]} [required] */
const obj = (properties, description, required) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(description ? { description } : {}),
  ...(required ? { required } : {}),
});
const image = (description) =>
  obj(
    {
      repository: str('Image repository (registry/name).'),
      // A string only: Helm reads an unquoted 1.10 as the float 1.1.
      tag: str('Image tag; quote numeric tags ("1.10").'),
      digest: str('Image digest (sha256:…); wins over the tag.', { pattern: '^$|^sha256:[a-f0-9]{64}$' }),
      pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
    },
    description,
  );
const probe = (description, withDelay = true) =>
  obj(
    {
      // The paths the admin server answers (src/server/admin-server.ts): another would never pass.
      path: str(
        'HTTP path on the admin port: /healthz (or /healthz/live) is alive, /readyz (or /healthz/ready) ready.',
        {
          enum: ['/healthz', '/healthz/live', '/readyz', '/healthz/ready'],
        },
      ),
      ...(withDelay ? { initialDelaySeconds: int() } : {}),
      periodSeconds: int(undefined, 1),
      timeoutSeconds: int(undefined, 1),
      failureThreshold: int(undefined, 1),
    },
    description,
  );
const secretRef = (description) =>
  obj(
    {
      existingSecret: str('Name of a Secret in the release namespace; empty: not used.', {
        pattern: '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
      }),
      key: str('Key of the value inside the Secret.', { minLength: 1, pattern: '^[-._a-zA-Z0-9]+$' }),
    },
    description,
  );
/** A Kubernetes resource quantity: a number with a binary (Ki…Ei) or decimal (m, k…E) suffix or an exponent. */
const quantity = {
  type: ['string', 'integer'],
  pattern: '^[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$',
};
const intOrPercent = (description) => ({
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+%$' },
  ],
  description,
});

/** The chart's values.schema.json as an object. */
export function chartValuesSchema() {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $comment: 'generated by scripts/generate-chart-schema.mjs from schema/config.json, do not edit',
    title: 'mcp-authz Helm chart values',
    type: 'object',
    additionalProperties: false,
    properties: {
      global: { type: 'object', description: 'Values shared with parent charts.' },
      enabled: {
        type: 'boolean',
        description:
          "A parent chart's switch for this dependency (`condition: mcp-authz.enabled`); unused here.",
      },
      mode: {
        enum: ['deployment', 'sidecar'],
        description:
          'deployment: Deployment with your MCP server image and the sidecar; sidecar: only the ConfigMaps, for the mcp-authz.sidecar template in your own Deployment.',
      },
      nameOverride: str(),
      fullnameOverride: str(),
      commonLabels: stringMap('Labels added to every object.'),
      image: image("The sidecar's image; the tag defaults to the chart's appVersion."),
      imagePullSecrets: k8sList('LocalObjectReferences of pull secrets.'),
      mcpServer: obj(
        {
          image: image('The MCP server image (deployment mode).'),
          host: str('Where the MCP server listens: a loopback address, so only the sidecar reaches it.', {
            minLength: 1,
          }),
          port: port("The MCP server's port on localhost."),
          path: str("The MCP server's Streamable HTTP path (no query or fragment).", {
            pattern: '^/[^?#]*$',
          }),
          hostEnv: str('Environment variable that tells the server its listen host ("" to skip).'),
          portEnv: str('Environment variable that tells the server its port ("" to skip).'),
          command: { type: 'array', items: { type: 'string' } },
          args: {
            type: 'array',
            items: { type: ['string', 'number', 'boolean'] },
            description: 'Each goes through tpl.',
          },
          env: k8sList('EnvVars of the MCP server container.'),
          envFrom: k8sList('EnvFromSources of the MCP server container.'),
          resources: k8sObject('ResourceRequirements of the MCP server container.'),
          livenessProbe: k8sObject('Probe (exec: the server listens on localhost).'),
          readinessProbe: k8sObject('Probe (exec: the server listens on localhost).'),
          securityContext: k8sObject('SecurityContext of the MCP server container.'),
          waitForSidecarOnStop: bool(
            'On termination the MCP server first sleeps (preStop) while the sidecar drains: config.server.shutdownDelayMs + shutdownGraceMs.',
          ),
          lifecycle: k8sObject(
            'Lifecycle of the MCP server container; when set, it replaces the preStop wait.',
          ),
          extraVolumeMounts: k8sList('VolumeMounts of the MCP server container.'),
        },
        'The MCP server the sidecar protects.',
      ),
      config: configSchema(),
      policy: obj(
        {
          source: {
            enum: ['image', 'configMap', 'url'],
            description:
              'image: the bundle baked into the image; configMap: policy.configMap; url: policy.url.',
          },
          url: str('http(s) URL of a bundle .tar.gz (source: url).', { pattern: '^$|^https?://' }),
          urlSecret: secretRef(
            'With source url, instead of url: a Secret holding the bundle URL, for one whose query carries a credential (presigned, SAS); given to the sidecar as AUTHZ_POLICY_BUNDLE, never written into the ConfigMap.',
          ),
          persist: bool(
            'With source url: keep the last bundle loaded in /tmp (config policy.persistDir), to start on it while the URL fails.',
          ),
          configMap: obj({
            existingName: str('A ConfigMap you manage that holds the bundle.'),
            bundleFile: str('The bundle file in the ConfigMap; "" loads it as a bundle folder.', {
              pattern: '^$|^[-._a-zA-Z0-9]+$',
            }),
            files: stringMap('Text entries of a chart-managed ConfigMap (e.g. data.json, .manifest).'),
            binaryFiles: {
              type: 'object',
              additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9+/=\\s]*$' },
              description: 'Binary entries, base64 (e.g. bundle.tar.gz, policy.wasm).',
            },
          }),
        },
        'Where the compiled policy bundle comes from.',
      ),
      tls: obj(
        {
          secretName: str(
            'A kubernetes.io/tls Secret (tls.crt, tls.key; ca.crt for requireClientCert) for TLS on the public port (config server.tls); "" leaves TLS off.',
            { pattern: '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
          ),
          requireClientCert: bool(
            "Mutual TLS: only clients presenting a certificate signed by the Secret's ca.crt complete the handshake.",
          ),
          clientCaSecretName: str(
            'A Secret whose ca.crt is the client CA of requireClientCert; "" uses secretName\'s own ca.crt.',
            { pattern: '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
          ),
          minVersion: { enum: ['TLSv1.2', 'TLSv1.3'], description: 'Oldest TLS version accepted.' },
        },
        'TLS on the sidecar public port, from a Secret; renewed certificates are used without a restart.',
      ),
      secrets: obj(
        {
          apiKeyPepper: secretRef('The API-key HMAC pepper (authn.apiKeys.pepperFile).'),
          jwtHsSecret: secretRef('The HS* JWT secret, at least 32 bytes (authn.jwt.hsSecretFile).'),
          redisPassword: secretRef('The Redis password (store.passwordFile).'),
          reportToken: secretRef(
            'The bearer token of GET /report on the admin port (admin.reportTokenFile).',
          ),
          bundleVerificationKey: secretRef(
            'The public key (PEM) or HMAC secret policy bundles must be signed with (policy.verification.keyFile); set, unsigned bundles are refused.',
          ),
          introspectionClientSecret: secretRef(
            'The client secret of token introspection (authn.introspection.clientSecretFile); config.authn.introspection must be set.',
          ),
          bundleToken: secretRef(
            'A bearer token sent when the bundle is fetched from policy.url (policy.bundleTokenFile); policy.source must be url.',
          ),
        },
        'Secrets by reference, mounted read-only as files.',
      ),
      redis: obj({
        url: str(
          'redis://, rediss://, redis+sentinel:// or redis+cluster:// URL of the shared store; empty: in-memory store per pod.',
          { pattern: '^$|^(rediss?|redis\\+sentinel|redis\\+cluster)://' },
        ),
        allowInMemoryWithReplicas: bool('Allow several replicas on per-pod in-memory stores.'),
      }),
      otel: obj(
        {
          enabled: bool(),
          endpoint: str('OTLP/HTTP base endpoint.', { pattern: '^$|^https?://' }),
          protocol: { enum: ['http/protobuf', 'http/json', 'grpc'] },
          serviceName: str(),
          tracesSampler: {
            enum: [
              'always_on',
              'always_off',
              'traceidratio',
              'parentbased_always_on',
              'parentbased_always_off',
              'parentbased_traceidratio',
            ],
          },
          tracesSamplerArg: { type: ['string', 'number'] },
          resourceAttributes: {
            type: 'object',
            additionalProperties: { type: ['string', 'number', 'boolean'] },
          },
        },
        'OpenTelemetry settings (OTEL_* variables).',
      ),
      extraEnv: k8sList('EnvVars of the sidecar.'),
      extraEnvFrom: k8sList('EnvFromSources of the sidecar.'),
      extraVolumes: k8sList('Volumes added to the pod.'),
      extraVolumeMounts: k8sList('VolumeMounts of the sidecar.'),
      resources: k8sObject('ResourceRequirements of the sidecar.'),
      securityContext: k8sObject('SecurityContext of the sidecar container.'),
      podSecurityContext: k8sObject('PodSecurityContext.'),
      probes: obj({
        liveness: probe('Liveness probe on the admin port.'),
        readiness: probe('Readiness probe on the admin port.'),
        startup: probe('Startup probe on the admin port.', false),
      }),
      tmpSizeLimit: quantity,
      replicaCount: int('Replicas when autoscaling is off.'),
      revisionHistoryLimit: int(),
      strategy: k8sObject('DeploymentStrategy.'),
      terminationGracePeriodSeconds: int(
        "At least the MCP server's preStop wait (config.server.shutdownDelayMs + shutdownGraceMs, rounded up to whole seconds, + 2 s) + 5 s for the server to stop after its own SIGTERM; the chart checks.",
      ),
      podAnnotations: stringMap(),
      podLabels: stringMap(),
      priorityClassName: str(),
      nodeSelector: stringMap(),
      tolerations: k8sList('Tolerations.'),
      affinity: k8sObject('Affinity.'),
      topologySpreadConstraints: k8sList('TopologySpreadConstraints.'),
      serviceAccount: obj({
        create: bool(),
        name: str(),
        annotations: stringMap(),
        automountServiceAccountToken: bool(),
      }),
      service: obj({
        type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
        port: port('The Service port (targets the sidecar).'),
        annotations: stringMap(),
      }),
      networkPolicy: obj({
        enabled: bool(),
        from: k8sList('NetworkPolicyPeers allowed to reach the sidecar port ([] = any).'),
        podSelector: stringMap('Labels of your pods (sidecar mode).'),
      }),
      podDisruptionBudget: obj({
        enabled: bool(),
        maxUnavailable: intOrPercent('Used unless minAvailable is set.'),
        minAvailable: { anyOf: [{ type: 'null' }, intOrPercent()] },
      }),
      autoscaling: obj({
        enabled: bool(),
        minReplicas: int(undefined, 1),
        maxReplicas: int(undefined, 1),
        targetCPUUtilizationPercentage: { anyOf: [{ type: 'null' }, int(undefined, 1, 1000)] },
        targetMemoryUtilizationPercentage: { anyOf: [{ type: 'null' }, int(undefined, 1, 1000)] },
      }),
      metrics: obj({
        serviceMonitor: obj({
          enabled: bool(
            'A metrics Service on the admin port and a ServiceMonitor (monitoring.coreos.com/v1).',
          ),
          interval: str(undefined, { pattern: '^[0-9]+(ms|s|m|h)$' }),
          scrapeTimeout: str(undefined, { pattern: '^[0-9]+(ms|s|m|h)$' }),
          labels: stringMap(),
          from: k8sList('NetworkPolicyPeers allowed to reach the admin port.'),
        }),
        prometheusRule: obj({
          enabled: bool('The example alert rules of alerts/mcp-authz-rules.yaml as a PrometheusRule.'),
          labels: stringMap(),
          additionalRules: k8sList('Prometheus rules of your own, added as the group mcp-authz.custom.'),
        }),
        dashboard: obj({
          enabled: bool('The Grafana dashboard as a ConfigMap.'),
          labels: stringMap(),
          annotations: stringMap(),
        }),
      }),
    },
  };
}

/** The text of values.schema.json. */
export function renderChartValuesSchema() {
  return `${JSON.stringify(chartValuesSchema(), null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const text = renderChartValuesSchema();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(VALUES_SCHEMA, 'utf8');
    } catch {}
    if (current !== text) {
      process.stderr.write(
        'charts/mcp-authz/values.schema.json is out of date: run node scripts/generate-chart-schema.mjs\n',
      );
      process.exitCode = 1;
    }
  } else {
    writeFileSync(VALUES_SCHEMA, text);
    process.stdout.write('wrote charts/mcp-authz/values.schema.json\n');
  }
}
