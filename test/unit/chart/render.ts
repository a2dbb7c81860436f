/**
 * Chart rendering for the chart tests: `helm` when it is on PATH (or HELM_BIN), else the project's own
 * renderer tools/helm-render (Go text/template + Sprig + Helm's functions), found or built by
 * `scripts/helm-render.mjs ensure` (~30–60 s the first time, cached in .cache/helm-render/). Rendered
 * documents are parsed and every Kubernetes object is validated against the API schemas of
 * `kubernetes-models`; Prometheus Operator objects, which it lacks, against the small schemas below.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import * as k8s from 'kubernetes-models';
import { parseDocument } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const CHART = join(ROOT, 'charts', 'mcp-authz');
export const EXAMPLES = join(CHART, 'examples');

export interface Renderer {
  kind: 'helm' | 'helm-render';
  bin: string;
  version: string;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked by schema, then read loosely
  [key: string]: any;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  values?: string[];
  set?: string[];
  setString?: string[];
  setFile?: string[];
  notes?: boolean;
}

export interface Rendered {
  objects: K8sObject[];
  /** The template each object came from (same order as objects). */
  sources: string[];
  text: string;
  notes: string;
}

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[], timeoutMs = 60_000): Promise<Exec> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

let renderer: Promise<Renderer> | undefined;

/** Finds or builds the renderer once per test file. */
export function ensureRenderer(): Promise<Renderer> {
  renderer ??= exec(
    process.execPath,
    [join(ROOT, 'scripts', 'helm-render.mjs'), 'ensure', '--json'],
    600_000,
  ).then((res) => {
    if (res.code !== 0) throw new Error(`cannot get a chart renderer:\n${res.stderr}`);
    return JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as Renderer;
  });
  return renderer;
}

function renderArgs(opts: RenderOptions): string[] {
  const args = ['--namespace', opts.namespace ?? 'mcp'];
  for (const f of opts.values ?? []) args.push('--values', f);
  for (const s of opts.set ?? []) args.push('--set', s);
  for (const s of opts.setString ?? []) args.push('--set-string', s);
  for (const s of opts.setFile ?? []) args.push('--set-file', s);
  return args;
}

/** Runs the renderer; resolves with its raw result, failing or not. */
export async function renderRaw(chart: string, opts: RenderOptions = {}): Promise<Exec & { notes: string }> {
  const r = await ensureRenderer();
  const release = opts.release ?? 'demo';
  if (r.kind === 'helm' && opts.notes) {
    // `helm template` never prints NOTES.txt; a client-side dry-run install prints manifests and notes.
    const res = await exec(r.bin, ['install', release, chart, '--dry-run=client', ...renderArgs(opts)]);
    const start = res.stdout.indexOf('MANIFEST:\n');
    const notesAt = res.stdout.indexOf('\nNOTES:\n', start);
    const manifests =
      start < 0 ? '' : res.stdout.slice(start + 'MANIFEST:\n'.length, notesAt < 0 ? undefined : notesAt);
    return {
      ...res,
      stdout: manifests,
      notes: notesAt < 0 ? '' : res.stdout.slice(notesAt + '\nNOTES:\n'.length),
    };
  }
  const res = await exec(r.bin, [
    'template',
    release,
    chart,
    ...renderArgs(opts),
    ...(opts.notes ? ['--notes'] : []),
  ]);
  const at = res.stdout.indexOf('\nNOTES:\n');
  if (at < 0) return { ...res, notes: '' };
  return { ...res, stdout: res.stdout.slice(0, at + 1), notes: res.stdout.slice(at + '\nNOTES:\n'.length) };
}

/** Renders a chart and parses every document; throws with the renderer's message when rendering fails. */
export async function render(chart: string, opts: RenderOptions = {}): Promise<Rendered> {
  const res = await renderRaw(chart, opts);
  if (res.code !== 0) throw new Error(`rendering ${chart} failed:\n${res.stderr}`);
  const objects: K8sObject[] = [];
  const sources: string[] = [];
  // Both renderers print each document as `---\n# Source: <chart>/templates/<file>\n<yaml>`.
  for (const chunk of res.stdout.split(/^---[ \t]*$/m)) {
    const source = /^# Source: (\S+)$/m.exec(chunk)?.[1] ?? '';
    const doc = parseDocument(chunk);
    if (doc.errors.length > 0)
      throw new Error(`${source}: rendered YAML does not parse: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj === null) continue;
    objects.push(obj);
    sources.push(source);
  }
  return { objects, sources, text: res.stdout, notes: res.notes };
}

/** Renders expecting failure; resolves with the error text. */
export async function renderError(chart: string, opts: RenderOptions = {}): Promise<string> {
  const res = await renderRaw(chart, opts);
  if (res.code === 0) throw new Error('rendering succeeded, expected a failure');
  return res.stderr;
}

/** A copy of a chart that depends on mcp-authz, with mcp-authz unpacked under charts/ (what `helm dependency build` + untar gives). */
export async function withDependency(
  parentChart: string,
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const tmp = await mkdtemp(join(tmpdir(), 'chart-'));
  const dir = join(tmp, 'chart');
  await cp(parentChart, dir, { recursive: true });
  await cp(CHART, join(dir, 'charts', 'mcp-authz'), {
    recursive: true,
    filter: (src) => !src.startsWith(EXAMPLES),
  });
  return { dir, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------- validation

type Model = new (data: object) => { validate(): void };

/** `apps/v1` → kubernetes-models' `apps.v1`, `networking.k8s.io/v1` → `networkingK8sIo.v1`, `v1` → `v1`. */
function modelFor(apiVersion: string, kind: string): Model | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const key = group ? group.replace(/\.([a-z])/g, (_, c: string) => c.toUpperCase()) : '';
  const models = k8s as unknown as Record<string, Record<string, Record<string, Model>>>;
  const groupModels = key ? models[key] : (models as unknown as Record<string, Record<string, Model>>);
  return groupModels?.[version ?? '']?.[kind];
}

/** The Prometheus Operator fields the chart uses (kubernetes-models has no CRDs). */
const prometheusOperator: Record<string, object> = {
  ServiceMonitor: {
    type: 'object',
    required: ['spec'],
    properties: {
      spec: {
        type: 'object',
        required: ['selector', 'endpoints'],
        additionalProperties: false,
        properties: {
          selector: { type: 'object', properties: { matchLabels: { type: 'object' } } },
          namespaceSelector: {
            type: 'object',
            additionalProperties: false,
            properties: {
              matchNames: { type: 'array', items: { type: 'string' } },
              any: { type: 'boolean' },
            },
          },
          endpoints: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                port: { type: 'string' },
                path: { type: 'string', pattern: '^/' },
                interval: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
                scrapeTimeout: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
              },
            },
          },
        },
      },
    },
  },
  PrometheusRule: {
    type: 'object',
    required: ['spec'],
    properties: {
      spec: {
        type: 'object',
        additionalProperties: false,
        required: ['groups'],
        properties: {
          groups: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'rules'],
              additionalProperties: false,
              properties: {
                name: { type: 'string' },
                rules: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['expr'],
                    additionalProperties: false,
                    properties: {
                      alert: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
                      record: { type: 'string', pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$' },
                      expr: { type: 'string', minLength: 1 },
                      for: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
                      keep_firing_for: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' },
                      labels: { type: 'object', additionalProperties: { type: 'string' } },
                      annotations: { type: 'object', additionalProperties: { type: 'string' } },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};
const ajv = new Ajv({ allErrors: true });

/** Validates one object; returns the problems (empty when valid). */
export function validateObject(obj: K8sObject): string[] {
  const where = `${obj?.kind ?? '?'} ${obj?.metadata?.name ?? '?'}`;
  if (!obj?.apiVersion || !obj.kind || !obj.metadata?.name)
    return [`${where}: apiVersion, kind and metadata.name are required`];
  if (obj.apiVersion === 'monitoring.coreos.com/v1') {
    const schema = prometheusOperator[obj.kind];
    if (!schema) return [`${where}: no schema for monitoring.coreos.com/v1 ${obj.kind}`];
    const validate = ajv.compile(schema);
    return validate(obj)
      ? []
      : (validate.errors ?? []).map((e) => `${where}: ${e.instancePath} ${e.message}`);
  }
  // The API server's own rule for Service names (kubernetes-models leaves names unchecked): a DNS-1035 label.
  if (obj.kind === 'Service' && !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(obj.metadata.name)) {
    return [`${where}: a Service name must be a DNS-1035 label of at most 63 characters`];
  }
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) return [`${where}: unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

// ---------------------------------------------------------------------------------------------- lookups

export function all(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as K8sObject;
}

// biome-ignore lint/suspicious/noExplicitAny: containers are read loosely after schema validation
export type Container = Record<string, any>;

export function container(deployment: K8sObject, name: string): Container {
  const c = (deployment.spec.template.spec.containers as Container[]).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name} in ${deployment.metadata.name}`);
  return c;
}
