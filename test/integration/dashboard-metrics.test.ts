/**
 * The Grafana dashboards (`charts/mcp-authz/dashboards/*.json`) and the Prometheus alert rules
 * (`charts/mcp-authz/alerts/mcp-authz-rules.yaml`) the chart ships query only what a running sidecar
 * exports. Every query is read from those files and checked against the `/metrics` text of a real sidecar
 * (the harness: example MCP server, dev issuer, a real `redis-server`) after traffic that makes each family
 * they use appear: the selectors and brackets of each query are well-formed, each `mcp_authz_*` name is an
 * exported series (a histogram through its `_bucket`, `_sum` or `_count` series), each label of a selector is
 * a label of that series and each exact value it matches occurs, and each label of a `by`, `without`, `on`,
 * `ignoring` or `group_*` clause, of a legend or of an alert annotation is a label of a series in the same
 * query. A division divides counts of the same thing ({@link COUNTS}), so that a ratio is a fraction.
 *
 * The OpenTelemetry Prometheus exporter, unlike prom-client, writes no `# HELP` / `# TYPE` for an instrument
 * without data points: only the series created at start-up (reloads, audit drops, policy revision, cache
 * lookups) are there from the first scrape. So the families that follow events are driven here: stage times
 * (`telemetry.stageMetrics`), a 429 (a guest's bucket emptied), an anomaly (a rule that trips on the second
 * bad token), and, with Redis killed and the upstream closed at the end, a store error, an upstream error and
 * an API key that cannot be looked up (`ERR_AUTHN_UNAVAILABLE`). The TLS families come from a second
 * sidecar serving TLS, whose certificate files are renewed in two steps (a refused set, then a good one).
 *
 * @module
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { generateApiKey } from '../../src/authn/api-key-format.js';
import { API_KEY_PREFIX } from '../../src/config/defaults.js';
import {
  ALERT_RULES,
  alertQueries,
  analyse,
  CHART,
  DASHBOARDS,
  dashboardQueries,
  divisions,
  METRIC_NAME,
  missing,
  parseScrape,
  type Query,
  type Scrape,
  TARGET_LABELS,
} from '../helpers/chart-queries.js';
import { postJsonRpc } from '../helpers/http.js';
import { ROOT } from '../helpers/policy.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { type ExampleServer, type Harness, startHarness } from '../helpers/sidecar.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

const TLS_FIXTURES = join(ROOT, 'test', 'fixtures', 'tls');

/**
 * What one increment of each counter a query divides counts (src/telemetry/metrics.ts): an HTTP request
 * answered, a JSON-RPC request decided, a JSON-RPC message refused by the rate limit (a refused batch counts
 * each request, notification and response it held), an upstream failure (of one forwarded HTTP request).
 */
const COUNTS: Readonly<Record<string, string>> = {
  mcp_authz_requests_total: 'HTTP requests',
  mcp_authz_upstream_errors_total: 'HTTP requests',
  mcp_authz_decisions_total: 'JSON-RPC requests',
  mcp_authz_ratelimit_rejections_total: 'JSON-RPC messages',
};

// ---- A sidecar with every family the files use ----

let redis: RedisServer;
let upstream: ExampleServer;
let upstreamOpen = true;
let h: Harness;
let scrape: Scrape;
let queries: Query[];

const metricsText = async (): Promise<string> => (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();

/** One JSON-RPC request; its HTTP status and, when the body is one, its JSON-RPC error code. */
async function send(auth: Record<string, string>, method: string, params?: unknown): Promise<string> {
  const res = await postJsonRpc(h.mcpUrl, auth, { jsonrpc: '2.0', id: 1, method, params });
  const text = await res.text();
  const code = /^\{/.test(text) ? (JSON.parse(text) as { error?: { code?: number } }).error?.code : undefined;
  return code === undefined ? String(res.status) : `${res.status} ${code}`;
}

beforeAll(async () => {
  queries = [...DASHBOARDS.flatMap(dashboardQueries), ...alertQueries()];
  redis = await startRedis();
  upstream = await startExampleServer({ stateless: true });
  h = await startHarness({
    redisUrl: redis.url,
    upstream,
    config: {
      telemetry: { stageMetrics: true },
      abuse: {
        rules: [
          {
            name: 'dashboard-bad-auth',
            kind: 'auth_failures_ip',
            threshold: 1,
            windowSec: 60,
            action: 'alert',
          },
        ],
        pollIntervalMs: 200,
      },
    },
  });
  const echo = { name: 'echo', arguments: { text: 'x' } };
  const guest = await h.bearer(['guest'], { sub: 'dashboard-guest' });
  // Allowed until the guest bucket (the policy's obligation: 50 tokens, 1/s) is empty, then 429.
  const statuses: string[] = [];
  while (statuses.length < 100 && !statuses.at(-1)?.startsWith('429')) {
    statuses.push(await send(guest, 'tools/call', echo));
  }
  expect(statuses[0]).toBe('200');
  expect(statuses.at(-1)).toBe('429 -32029');
  // Denied by the policy.
  const user = await h.bearer(['user'], { sub: 'dashboard-user' });
  const destructive = { name: 'delete_customer', arguments: { tenant: 'acme', id: 'c-1' } };
  expect(await send(user, 'tools/call', destructive)).toBe('200 -32003');
  // Two bad tokens: authentication failures, and the second trips the anomaly rule.
  const bad = { authorization: `${user.authorization}x` };
  for (let i = 0; i < 2; i++) expect(await send(bad, 'ping')).toMatch(/^401\b/);
  await until(10_000, async () => (await metricsText()).includes('mcp_authz_anomalies_total{'), 100);
  // Outage: the take falls back to a local bucket (store error), the forward finds no upstream (502), and
  // an API key cannot be looked up (503 ERR_AUTHN_UNAVAILABLE).
  await redis.kill();
  await upstream.close();
  upstreamOpen = false;
  expect(await send(await h.bearer(['user'], { sub: 'dashboard-outage' }), 'tools/call', echo)).toMatch(
    /^502\b/,
  );
  expect(await send({ 'x-api-key': generateApiKey(API_KEY_PREFIX).key }, 'ping')).toMatch(/^503\b/);
  scrape = parseScrape(`${await metricsText()}\n${await tlsFamilies()}`);
});

/**
 * The `mcp_authz_tls_*` lines of a second sidecar serving TLS (the fixtures' certificate), after a refused
 * and an accepted renewal: a new certificate whose key comes a moment later.
 */
async function tlsFamilies(): Promise<string> {
  const dir = tempDir('dashboard-tls');
  const [certFile, keyFile] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
  copyFileSync(join(TLS_FIXTURES, 'server.pem'), certFile);
  copyFileSync(join(TLS_FIXTURES, 'server-key.pem'), keyFile);
  const t = await startHarness({ config: { server: { tls: { certFile, keyFile } } } });
  try {
    const text = async () => (await fetch(`${t.sidecar.adminUrl}/metrics`)).text();
    // Both series are exported at 0 from the start (an alert's increase() needs that): wait for a count.
    const counted = async (result: string) =>
      (await text())
        .split('\n')
        .some(
          (l) =>
            l.startsWith('mcp_authz_tls_reloads_total{') &&
            l.includes(`result="${result}"`) &&
            Number(l.split(' ').at(-1)) > 0,
        );
    copyFileSync(join(TLS_FIXTURES, 'server-renewed.pem'), certFile);
    await until(10_000, () => counted('failure'));
    copyFileSync(join(TLS_FIXTURES, 'server-renewed-key.pem'), keyFile);
    await until(10_000, () => counted('success'));
    return (await text())
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?mcp_authz_tls_/.test(l))
      .join('\n');
  } finally {
    await t.stop();
  }
}

afterAll(async () => {
  await h?.stop();
  if (upstreamOpen) await upstream?.close();
  await redis?.stop();
});

describe('the dashboards and alert rules query what /metrics exports', () => {
  it('finds the queries of every panel, variable, annotation and alert', () => {
    expect(DASHBOARDS.length).toBeGreaterThanOrEqual(1);
    const alerts = queries.filter((q) => q.where.startsWith('alerts:'));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    expect(queries.length - alerts.length).toBeGreaterThanOrEqual(20);
    const without = queries.filter((q) => analyse(q.expr).metrics.length === 0).map((q) => q.where);
    expect(without, 'queries naming no mcp_authz_* metric').toEqual([]);
  });

  it('writes well-formed selectors and brackets', () => {
    const problems = queries.flatMap((q) => analyse(q.expr).errors.map((e) => `${q.where}: ${e}`));
    expect(problems).toEqual([]);
  });

  it('queries only series the sidecar exports', () => {
    const problems = queries.flatMap((q) =>
      analyse(q.expr).metrics.flatMap((m) => {
        const why = missing(scrape, m);
        return why ? [`${q.where}: ${why}`] : [];
      }),
    );
    expect(problems).toEqual([]);
  });

  it('selects by labels of the selected series, and matches values that occur', () => {
    const problems: string[] = [];
    for (const q of queries) {
      for (const s of analyse(q.expr).selectors) {
        const labels = s.metric ? scrape.series.get(s.metric) : undefined;
        if (!labels) continue; // a missing series is the previous test's finding
        for (const { label, op, value } of s.matchers) {
          if (TARGET_LABELS.has(label)) continue;
          const values = labels.get(label);
          if (!values) problems.push(`${q.where}: ${s.metric} has no label ${label}`);
          // An exact value that never occurs selects nothing (=) or filters nothing (!=).
          else if ((op === '=' || op === '!=') && !value.includes('$') && !values.has(value)) {
            problems.push(`${q.where}: ${s.metric}{${label}${op}"${value}"}: seen ${[...values].join(', ')}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('groups, matches and reads results by labels of the series in the same query', () => {
    const problems: string[] = [];
    for (const q of queries) {
      const a = analyse(q.expr);
      const available = new Set(TARGET_LABELS);
      for (const m of a.metrics) for (const l of scrape.series.get(m)?.keys() ?? []) available.add(l);
      for (const l of a.clauseLabels) {
        if (!available.has(l)) problems.push(`${q.where}: no series in the query has the label ${l}`);
      }
      // An aggregated result keeps only its by labels; otherwise the series' own labels.
      const kept = a.byLabels ? new Set(a.byLabels) : available;
      for (const l of q.reads) {
        if (!kept.has(l)) problems.push(`${q.where}: reads {{${l}}}, which the result does not have`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('divides counts of the same thing, so that a ratio is a fraction', () => {
    const what = (side: readonly string[]) => [
      ...new Set(side.map((m) => COUNTS[m] ?? `${m} (what does it count? see COUNTS)`)),
    ];
    const ratios = queries.flatMap((q) => divisions(q.expr).map((d) => ({ where: q.where, ...d })));
    // The deny rate (alert and panel), the rate-limit surge and the upstream error rate at least.
    expect(ratios.length).toBeGreaterThanOrEqual(4);
    const problems = ratios.flatMap(({ where, numerator, denominator }) => {
      const [num, den] = [what(numerator), what(denominator)];
      return num.length === 1 && den.length === 1 && num[0] === den[0]
        ? []
        : [`${where}: ${num.join(' + ')} / ${den.join(' + ')}`];
    });
    expect(problems).toEqual([]);
  });

  it('divides upstream errors by the requests of every route that reaches the upstream', () => {
    // Both count HTTP requests, but upstream errors come from each route that forwards; a denominator of one
    // route's requests inflates the rate behind legacy SSE clients.
    const forwarding = ['mcp', 'legacy_sse', 'legacy_messages'];
    const problems = queries
      .filter((q) => divisions(q.expr).some((d) => d.numerator.includes('mcp_authz_upstream_errors_total')))
      .flatMap((q) =>
        analyse(q.expr)
          .selectors.filter((s) => s.metric === 'mcp_authz_requests_total')
          .flatMap((s) => s.matchers.filter((m) => m.label === 'route'))
          .flatMap(({ op, value }) =>
            forwarding
              .filter((r) =>
                op === '=~' ? !new RegExp(`^(?:${value})$`).test(r) : op === '=' && r !== value,
              )
              .map((r) => `${q.where}: requests{route${op}"${value}"} leaves out ${r}`),
          ),
      );
    expect(queries.some((q) => q.expr.includes('mcp_authz_upstream_errors_total'))).toBe(true);
    expect(problems).toEqual([]);
  });

  it("counts the sidecar's own 429s by their reason: an upstream's 429 is passed on with reason none", () => {
    const unqualified = queries.flatMap((q) =>
      analyse(q.expr)
        .selectors.filter(
          (s) =>
            s.metric === 'mcp_authz_requests_total' &&
            s.matchers.some((m) => m.label === 'status' && m.value === '429') &&
            !s.matchers.some((m) => m.label === 'reason' && m.op === '=' && m.value === 'ratelimit'),
        )
        .map(() => q.where),
    );
    expect(queries.some((q) => q.expr.includes('status="429"'))).toBe(true);
    expect(unqualified).toEqual([]);
  });

  it('leaves the target labels to Prometheus: the sidecar exports none of them', () => {
    const clashes = [...scrape.series].flatMap(([name, labels]) =>
      [...labels.keys()].filter((l) => TARGET_LABELS.has(l)).map((l) => `${name}{${l}}`),
    );
    expect(clashes).toEqual([]);
  });

  it('names only exported metrics anywhere in the files (descriptions and comments too)', () => {
    const problems = [...DASHBOARDS, ALERT_RULES].flatMap((file) =>
      [...new Set(readFileSync(file, 'utf8').match(METRIC_NAME) ?? [])]
        .filter((m) => !scrape.families.has(m) && !scrape.series.has(m))
        .map((m) => `${file.slice(CHART.length + 1)}: ${m} is not exported`),
    );
    expect(problems).toEqual([]);
  });
});
