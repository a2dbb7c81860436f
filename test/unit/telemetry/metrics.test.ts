import type { Meter } from '@opentelemetry/api';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FAST_BUCKETS } from '../../../src/telemetry/histogram-buckets.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import {
  LabelSet,
  MAX_DYNAMIC_LABELS,
  MAX_TOOL_LABELS,
  statusClass,
} from '../../../src/telemetry/metric-labels.js';
import { SidecarMetrics } from '../../../src/telemetry/metrics.js';
import { createTelemetry, type Telemetry } from '../../../src/telemetry/otel.js';
import { bucketsFirst } from '../../../src/telemetry/prometheus-text.js';
import { startOtlpReceiver } from '../../helpers/otlp-receiver.js';

let telemetry: Telemetry;
let metrics: SidecarMetrics;

async function scrape(): Promise<Map<string, PrometheusFamily>> {
  const { type, body } = await telemetry.prometheus();
  expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Map(parsePrometheusTextFormat(body).map((f) => [f.name, f]));
}

function samples(families: Map<string, PrometheusFamily>, name: string) {
  const f = families.get(name);
  if (!f) throw new Error(`no metric family ${name}`);
  return f.metrics;
}

beforeEach(async () => {
  telemetry = createTelemetry({ env: {}, serviceVersion: '0.0.0-test', logger: silentLogger() });
  await telemetry.start();
  metrics = new SidecarMetrics(telemetry);
  telemetry.addPrometheusText(() => metrics.revisionText());
});

afterEach(async () => {
  await telemetry.stop();
});

describe('SidecarMetrics in Prometheus text', () => {
  it('renders every instrument with the documented name and type, and the text parses', async () => {
    metrics.setToolNames(['read_customer']);
    metrics.request('mcp', 200, null, 0.012);
    metrics.decision('allow', 'tools/call', 'read_customer', 0.00004);
    metrics.stage('decide', 0.00005);
    metrics.authnFailure('ERR_AUTHN_INVALID_TOKEN');
    metrics.rateLimitRejection('subject');
    metrics.anomaly('burst');
    metrics.policyReload('success', 'rev-1');
    metrics.upstream(200, 0.02);
    metrics.upstreamError('ERR_UPSTREAM_TIMEOUT');
    metrics.storeError('ratelimit');
    metrics.auditDropped();
    metrics.sessionEvicted('failed');
    const f = await scrape();
    const expected: Record<string, PrometheusFamily['type']> = {
      mcp_authz_requests_total: 'COUNTER',
      mcp_authz_request_duration_seconds: 'HISTOGRAM',
      mcp_authz_decisions_total: 'COUNTER',
      mcp_authz_decision_duration_seconds: 'HISTOGRAM',
      mcp_authz_stage_duration_seconds: 'HISTOGRAM',
      mcp_authz_authn_failures_total: 'COUNTER',
      mcp_authz_ratelimit_rejections_total: 'COUNTER',
      mcp_authz_anomalies_total: 'COUNTER',
      mcp_authz_policy_reloads_total: 'COUNTER',
      mcp_authz_policy_revision_info: 'GAUGE',
      mcp_authz_upstream_duration_seconds: 'HISTOGRAM',
      mcp_authz_upstream_errors_total: 'COUNTER',
      mcp_authz_store_errors_total: 'COUNTER',
      mcp_authz_audit_dropped_total: 'COUNTER',
      mcp_authz_sessions_evicted_total: 'COUNTER',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(f.get(name)?.type, name).toBe(type);
      expect(f.get(name)?.help, name).not.toBe('description missing');
    }
    expect(samples(f, 'mcp_authz_requests_total')).toEqual([
      { labels: { route: 'mcp', status: '200', reason: 'none' }, value: '1' },
    ]);
    expect(samples(f, 'mcp_authz_decisions_total')).toEqual([
      { labels: { result: 'allow', method: 'tools/call', tool: 'read_customer' }, value: '1' },
    ]);
    expect(samples(f, 'mcp_authz_authn_failures_total')[0]?.labels).toEqual({
      reason: 'ERR_AUTHN_INVALID_TOKEN',
    });
    expect(
      samples(f, 'mcp_authz_sessions_evicted_total').find((s) => s.labels?.result === 'failed')?.value,
    ).toBe('1');
    // The parser flattens labelled histograms, so their series are checked in the text itself.
    const { body } = await telemetry.prometheus();
    expect(body).toContain('mcp_authz_upstream_duration_seconds_count{status_class="2xx"} 1');
    expect(body).toContain('mcp_authz_stage_duration_seconds_bucket{stage="decide",le="0.00005"} 1');
    expect(body).toContain('mcp_authz_request_duration_seconds_sum{route="mcp"} 0.012');
    expect(samples(f, 'mcp_authz_policy_revision_info')).toEqual([
      { labels: { revision: 'rev-1' }, value: '1' },
    ]);
    expect(f.has('target_info')).toBe(true);
  });

  it('uses µs–s buckets for the decision and stage histograms', async () => {
    metrics.decision('deny', 'tools/call', null, 0.00003);
    const f = await scrape();
    const [h] = samples(f, 'mcp_authz_decision_duration_seconds');
    const bounds = Object.keys(h?.buckets ?? {}).filter((b) => b !== '+Inf');
    expect(bounds.map(Number).sort((a, b) => a - b)).toEqual(FAST_BUCKETS);
    expect(h?.buckets?.['0.00001']).toBe('0');
    expect(h?.buckets?.['0.00005']).toBe('1');
    expect(h?.count).toBe('1');
  });

  it('exposes the audit-drop counter, reload and session-eviction results at 0 before anything happens', async () => {
    const f = await scrape();
    expect(samples(f, 'mcp_authz_audit_dropped_total')).toEqual([{ value: '0' }]);
    expect(
      samples(f, 'mcp_authz_sessions_evicted_total')
        .map((s) => [s.labels?.result, s.value])
        .sort(),
    ).toEqual([
      ['dropped', '0'],
      ['ended', '0'],
      ['failed', '0'],
      ['gone', '0'],
      ['kept', '0'],
      ['refused', '0'],
    ]);
    expect(
      samples(f, 'mcp_authz_policy_reloads_total')
        .map((s) => s.labels?.result)
        .sort(),
    ).toEqual(['failure', 'success']);
    expect(f.has('mcp_authz_policy_revision_info')).toBe(false);
  });

  it('reports only the loaded revision, at 1: earlier ones leave the output, however many reloads', async () => {
    const series = (f: Map<string, PrometheusFamily>) =>
      (f.get('mcp_authz_policy_revision_info')?.metrics ?? []).map((s) => [s.labels?.revision, s.value]);
    metrics.policyReload('success', 'rev-1');
    expect(series(await scrape())).toEqual([['rev-1', '1']]);
    metrics.policyReload('success', 'rev-2');
    metrics.policyReload('failure');
    const f = await scrape();
    expect(series(f)).toEqual([['rev-2', '1']]);
    expect(
      samples(f, 'mcp_authz_policy_reloads_total').find((s) => s.labels?.result === 'failure')?.value,
    ).toBe('1');
    // A bundle server publishing often: one series, not one per revision ever loaded.
    for (let i = 0; i < 40; i++) {
      metrics.policyReload('success', `rev-many-${i}`);
      await scrape();
    }
    expect(series(await scrape())).toEqual([['rev-many-39', '1']]);
    metrics.setPolicyRevision(null);
    expect(series(await scrape())).toEqual([]);
  });
});

describe('the revision gauge with OTLP export on as well', () => {
  it('holds only the loaded revision in /metrics and in each OTLP export, across reloads between them', async () => {
    const receiver = await startOtlpReceiver();
    const t = createTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint },
      serviceVersion: '0.0.0-test',
      logger: silentLogger(),
    });
    try {
      await t.start();
      const meter = t.otlpOnlyMeter;
      expect(meter).toBeDefined();
      const m = new SidecarMetrics(t, { otlpOnly: { meter: meter as Meter, routes: new Map() } });
      t.addPrometheusText(() => m.revisionText());
      const exported = () =>
        receiver
          .metrics()
          .filter((x) => x.name === 'mcp_authz_policy_revision_info')
          .map((x) => x.dataPoints.map((p) => [p.attributes.revision, p.value]));
      m.setPolicyRevision('rev-1');
      await t.flush();
      m.setPolicyRevision('rev-2');
      // A scrape after an OTLP push and a reload: the new revision only (the SDK handed one reader's
      // observations to the other's next collection).
      const text = (await t.prometheus()).body;
      expect(text).toContain('mcp_authz_policy_revision_info{revision="rev-2"} 1');
      expect(text).not.toContain('rev-1');
      await t.flush();
      expect(exported()).toEqual([[['rev-1', 1]], [['rev-2', 1]]]);
      // Not in /metrics twice: written once, by revisionText.
      expect(text.match(/# TYPE mcp_authz_policy_revision_info/g)).toHaveLength(1);
    } finally {
      await t.stop();
      await receiver.stop();
    }
  });
});

describe('bucketsFirst', () => {
  it("puts each data point's buckets before its sum and count, leaving other lines alone", () => {
    const text = [
      '# TYPE h histogram',
      'h_count{a="1"} 2',
      'h_sum{a="1"} 3',
      'h_bucket{a="1",le="1"} 1',
      'h_bucket{a="1",le="+Inf"} 2',
      'h_count{a="2"} 1',
      'h_sum{a="2"} 1',
      'h_bucket{a="2",le="+Inf"} 1',
      '# TYPE c counter',
      'c_total 4',
    ].join('\n');
    expect(bucketsFirst(text).split('\n')).toEqual([
      '# TYPE h histogram',
      'h_bucket{a="1",le="1"} 1',
      'h_bucket{a="1",le="+Inf"} 2',
      'h_count{a="1"} 2',
      'h_sum{a="1"} 3',
      'h_bucket{a="2",le="+Inf"} 1',
      'h_count{a="2"} 1',
      'h_sum{a="2"} 1',
      '# TYPE c counter',
      'c_total 4',
    ]);
  });
});

describe('label bounding', () => {
  it('maps tools outside the catalog, unknown methods, routes and statuses to other', async () => {
    metrics.setToolNames(['read_customer', 'delete_customer']);
    metrics.decision('deny', 'tools/call', 'exfiltrate_u-42', 0.0001);
    metrics.decision('deny', 'u-42/custom', undefined, 0.0001);
    metrics.decision('allow', 'tools/list', null, 0.0001);
    metrics.request('/mcp/u-42', 999, 'policy', 0.1);
    const f = await scrape();
    const labels = samples(f, 'mcp_authz_decisions_total').map((s) => s.labels);
    expect(labels).toContainEqual({ result: 'deny', method: 'tools/call', tool: 'other' });
    expect(labels).toContainEqual({ result: 'deny', method: 'other', tool: 'none' });
    expect(labels).toContainEqual({ result: 'allow', method: 'tools/list', tool: 'none' });
    expect(samples(f, 'mcp_authz_requests_total')[0]?.labels).toEqual({
      route: 'other',
      status: 'other',
      reason: 'policy',
    });
    const { body } = await telemetry.prometheus();
    expect(body).not.toContain('u-42');
  });

  it('replaces the tool allow-list on setToolNames, capped', async () => {
    metrics.setToolNames(['a']);
    metrics.setToolNames(['b']);
    metrics.decision('allow', 'tools/call', 'a', 0.001);
    metrics.decision('allow', 'tools/call', 'b', 0.001);
    const many = Array.from({ length: MAX_TOOL_LABELS + 10 }, (_, i) => `t${i}`);
    metrics.setToolNames(many);
    metrics.decision('allow', 'tools/call', `t${MAX_TOOL_LABELS + 5}`, 0.001);
    const f = await scrape();
    const tools = samples(f, 'mcp_authz_decisions_total').map((s) => s.labels?.tool);
    expect(tools.sort()).toEqual(['b', 'other']);
  });

  it('accepts only authentication codes as authn failure reasons', async () => {
    metrics.authnFailure('ERR_POLICY_DENIED');
    const f = await scrape();
    expect(samples(f, 'mcp_authz_authn_failures_total')[0]?.labels).toEqual({ reason: 'other' });
  });

  it('keeps at most a fixed number of first-seen values for open label sets', () => {
    const s = new LabelSet([], MAX_DYNAMIC_LABELS);
    const seen = new Set<string>();
    for (let i = 0; i < MAX_DYNAMIC_LABELS * 3; i++) seen.add(s.label(`op${i}`));
    expect(seen.size).toBe(MAX_DYNAMIC_LABELS + 1);
    expect(seen.has('other')).toBe(true);
    expect(s.label('op0')).toBe('op0');
    expect(new LabelSet([], 5).label('has spaces and {braces}')).toBe('other');
    expect(new LabelSet(['x']).label(null)).toBe('none');
  });

  it('classes upstream statuses', () => {
    expect([statusClass(204), statusClass(502), statusClass(null), statusClass(42)]).toEqual([
      '2xx',
      '5xx',
      'error',
      'other',
    ]);
  });
});
