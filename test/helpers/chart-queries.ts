/**
 * What the chart's Grafana dashboards and Prometheus alert rules query, and what a `/metrics` scrape holds,
 * for `test/integration/dashboard-metrics.test.ts`: the queries with the labels their results are read by,
 * a small PromQL tokenizer (selectors, grouping clauses, brackets, the sides of a division; not a full
 * parser) and the scrape's families and series.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './policy.js';

export const CHART = join(ROOT, 'charts', 'mcp-authz');
export const DASHBOARDS = readdirSync(join(CHART, 'dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => join(CHART, 'dashboards', f));
export const ALERT_RULES = join(CHART, 'alerts', 'mcp-authz-rules.yaml');

/**
 * Labels that Prometheus, not the sidecar, puts on every scraped series: the target labels of the chart's
 * ServiceMonitor (prometheus-operator) or of Kubernetes service discovery. The files use namespace and pod.
 */
export const TARGET_LABELS = new Set([
  'job',
  'instance',
  'namespace',
  'pod',
  'service',
  'endpoint',
  'container',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const MATCH_OPS = new Set(['=', '!=', '=~', '!~']);
export const METRIC_NAME = /mcp_authz_[a-z_]+/g;

// ---- The queries in the files ----

export interface Query {
  /** File and panel, variable or alert, for the failure messages. */
  readonly where: string;
  readonly expr: string;
  /** Labels the result is read by: legend `{{x}}`, annotation `{{ $labels.x }}`, `label_values`' label. */
  readonly reads: readonly string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function templateLabels(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return [...text.matchAll(/\{\{\s*(?:\$labels\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map(
    (m) => m[1] as string,
  );
}

function alertTemplateLabels(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return [...text.matchAll(/\{\{[^}]*?\$labels\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
}

/** Every `expr` (panel targets, annotations, nested rows) and every query variable of one dashboard. */
export function dashboardQueries(file: string): Query[] {
  const name = file.slice(CHART.length + 1);
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const out: Query[] = [];
  const visit = (node: unknown, where: string): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n, where);
      return;
    }
    if (!isObject(node)) return;
    const here =
      typeof node.title === 'string'
        ? `panel "${node.title}"`
        : typeof node.name === 'string'
          ? `annotation "${node.name}"`
          : where;
    if (typeof node.expr === 'string') {
      const ref = typeof node.refId === 'string' ? ` (${node.refId})` : '';
      out.push({
        where: `${name}: ${here}${ref}`,
        expr: node.expr,
        reads: [node.legendFormat, node.titleFormat, node.textFormat].flatMap(templateLabels),
      });
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'templating') visit(v, here);
  };
  visit(dashboard, name);
  const templating = isObject(dashboard.templating) ? dashboard.templating.list : [];
  for (const variable of Array.isArray(templating) ? templating : []) {
    if (!isObject(variable) || variable.type !== 'query') continue;
    const query = isObject(variable.query) ? variable.query.query : variable.query;
    for (const text of new Set([query, variable.definition])) {
      if (typeof text !== 'string') continue;
      const where = `${name}: variable "${String(variable.name)}"`;
      const lv = /^\s*label_values\(\s*(.*?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/s.exec(text);
      out.push(
        lv ? { where, expr: lv[1] as string, reads: [lv[2] as string] } : { where, expr: text, reads: [] },
      );
    }
  }
  return out;
}

/** Every rule's `expr`, with the labels its annotations and labels read through `$labels`. */
export function alertQueries(): Query[] {
  const file = parseYaml(readFileSync(ALERT_RULES, 'utf8')) as {
    groups: { name: string; rules: Record<string, unknown>[] }[];
  };
  return file.groups.flatMap((g) =>
    g.rules.map((r) => ({
      where: `alerts: ${g.name}/${String(r.alert ?? r.record)}`,
      expr: String(r.expr),
      reads: [
        ...Object.values(isObject(r.annotations) ? r.annotations : {}),
        ...Object.values(isObject(r.labels) ? r.labels : {}),
      ].flatMap(alertTemplateLabels),
    })),
  );
}

// ---- Just enough PromQL: tokens, selectors, grouping clauses and brackets ----

export interface Token {
  readonly kind: 'str' | 'var' | 'num' | 'ident' | 'op' | 'punct';
  readonly text: string;
}

export interface Selector {
  readonly metric: string | null;
  readonly matchers: readonly { readonly label: string; readonly op: string; readonly value: string }[];
}

export interface Analysis {
  /** Every `mcp_authz_*` series the query names. */
  readonly metrics: readonly string[];
  readonly selectors: readonly Selector[];
  /** Labels of every grouping and matching clause. */
  readonly clauseLabels: readonly string[];
  /** Labels of the `by` clauses: what an aggregated result keeps (null when nothing is aggregated by). */
  readonly byLabels: readonly string[] | null;
  readonly errors: readonly string[];
}

const TOKEN =
  /\s+|(?<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|(?<var>\$\{[^}]*\}|\$[A-Za-z0-9_]+)|(?<num>[0-9.][0-9A-Za-z.]*)|(?<ident>[A-Za-z_:][A-Za-z0-9_:]*)|(?<op>=~|!~|!=|==|<=|>=|[=<>+\-*/%^])|(?<punct>[{}()[\],])/y;

function tokenize(expr: string, errors: string[]): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expr.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(expr);
    if (!m) {
      errors.push(`unexpected character ${JSON.stringify(expr[at])} at ${at}`);
      TOKEN.lastIndex = at + 1;
      continue;
    }
    const kind = Object.entries(m.groups ?? {}).find(([, v]) => v !== undefined)?.[0];
    if (kind) tokens.push({ kind: kind as Token['kind'], text: m[0] });
  }
  return tokens;
}

export function analyse(expr: string): Analysis {
  const errors: string[] = [];
  const tokens = tokenize(expr, errors);
  const metrics: string[] = [];
  const selectors: Selector[] = [];
  const clauseLabels: string[] = [];
  let byLabels: string[] | null = null;
  const open: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === 'ident' && t.text.startsWith('mcp_authz_')) metrics.push(t.text);
    if (t.kind === 'ident' && GROUPING.has(t.text) && tokens[i + 1]?.text === '(') {
      let j = i + 2;
      for (; j < tokens.length && tokens[j]?.text !== ')'; j++) {
        const l = tokens[j] as Token;
        if (l.kind === 'ident') {
          clauseLabels.push(l.text);
          if (t.text === 'by') byLabels = [...(byLabels ?? []), l.text];
        } else if (l.text !== ',') errors.push(`unexpected ${l.text} in ${t.text} (…)`);
      }
      if (j >= tokens.length) errors.push(`${t.text} ( is not closed`);
      i = j;
      continue;
    }
    if (t.kind === 'punct' && t.text === '{') {
      const prev = tokens[i - 1];
      const matchers: Selector['matchers'][number][] = [];
      let j = i + 1;
      for (;;) {
        const [label, op, value, next] = [tokens[j], tokens[j + 1], tokens[j + 2], tokens[j + 3]];
        if (label?.text === '}') break;
        if (label?.kind !== 'ident' || !op || !MATCH_OPS.has(op.text) || value?.kind !== 'str') {
          errors.push(`a selector's matchers are not label op "value": ${expr}`);
          break;
        }
        matchers.push({
          label: label.text,
          op: op.text,
          value: value.text.slice(1, -1).replace(/\\(.)/g, '$1'),
        });
        j += 3;
        if (next?.text === ',') j++;
        else if (next?.text !== '}') {
          errors.push(`a selector is not closed after ${label.text}${op.text}${value.text}`);
          break;
        }
      }
      selectors.push({ metric: prev?.kind === 'ident' ? prev.text : null, matchers });
      i = j;
      continue;
    }
    if (t.text === '(' || t.text === '[') open.push(t.text);
    else if (t.text === ')' || t.text === ']') {
      const want = t.text === ')' ? '(' : '[';
      if (open.pop() !== want) errors.push(`${t.text} closes nothing it opened`);
    } else if (t.text === '}') {
      const before = tokens.slice(Math.max(0, i - 4), i + 1).map((x) => x.text);
      errors.push(`a } that closes no selector: …${before.join('')}`);
    }
  }
  if (open.length > 0) errors.push(`${open.join(' ')} not closed`);
  return { metrics, selectors, clauseLabels, byLabels, errors };
}

const SET_OPERATORS = new Set(['and', 'or', 'unless']);
const COMPARISONS = new Set(['==', '!=', '<', '>', '<=', '>=']);

/** The two sides of a division: the `mcp_authz_*` series each names. */
export interface Division {
  readonly numerator: readonly string[];
  readonly denominator: readonly string[];
}

/**
 * Every division (`/`) in `expr`, with the series of each side: a side reaches to the bracket around the
 * division, or to a comparison or `and` / `or` / `unless` outside any bracket (enough for `(a / b) > x`).
 */
export function divisions(expr: string): Division[] {
  const tokens = tokenize(expr, []);
  return tokens.flatMap((t, i) =>
    t.kind === 'op' && t.text === '/'
      ? [{ numerator: operand(tokens, i, -1), denominator: operand(tokens, i, 1) }]
      : [],
  );
}

function operand(tokens: readonly Token[], at: number, step: 1 | -1): string[] {
  const [opening, closing] = step === 1 ? ['([{', ')]}'] : [')]}', '([{'];
  const metrics: string[] = [];
  let depth = 0;
  for (let i = at + step; i >= 0 && i < tokens.length; i += step) {
    const t = tokens[i] as Token;
    if (t.kind === 'punct' && opening.includes(t.text)) depth++;
    else if (t.kind === 'punct' && closing.includes(t.text)) {
      if (depth === 0) break;
      depth--;
    } else if (
      depth === 0 &&
      ((t.kind === 'ident' && SET_OPERATORS.has(t.text)) || (t.kind === 'op' && COMPARISONS.has(t.text)))
    ) {
      break;
    }
    if (t.kind === 'ident' && t.text.startsWith('mcp_authz_')) metrics.push(t.text);
  }
  return metrics;
}

// ---- The scrape ----

export interface Scrape {
  /** `# TYPE` name → type. */
  readonly families: Map<string, string>;
  /** Sample name (`…_bucket`, `…_total`, …) → label → the values seen. */
  readonly series: Map<string, Map<string, Set<string>>>;
}

export function parseScrape(text: string): Scrape {
  const families = new Map<string, string>();
  const series = new Map<string, Map<string, Set<string>>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1] as string, type[2] as string);
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? \S+/.exec(line);
    if (!sample) continue;
    const labels = series.get(sample[1] as string) ?? new Map<string, Set<string>>();
    series.set(sample[1] as string, labels);
    for (const [, label, value] of (sample[2] ?? '').matchAll(
      /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
    )) {
      const values = labels.get(label as string) ?? new Set<string>();
      labels.set(label as string, values);
      values.add((value as string).replace(/\\(.)/g, '$1'));
    }
  }
  return { families, series };
}

/** Why `name` queries nothing on this scrape, or null when it is an exported series. */
export function missing(scrape: Scrape, name: string): string | null {
  if (scrape.series.has(name)) return null;
  if (scrape.families.get(name) === 'histogram') {
    return `${name} is a histogram: query ${name}_bucket, _sum or _count`;
  }
  const family = name.replace(/_(bucket|sum|count)$/, '');
  if (family !== name && scrape.families.has(family)) {
    return `${name}: ${family} is a ${scrape.families.get(family)}, not a histogram`;
  }
  return `${name} is not exported`;
}
