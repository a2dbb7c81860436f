/**
 * The tallied histograms against the SDK's own explicit-bucket histogram: the same values recorded in both
 * give the same Prometheus text (buckets, sum, count, by label), and a delta reader gets what each series
 * gained since its last collection.
 *
 * @module
 */
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { AggregationTemporality, type HistogramMetricData, MeterProvider } from '@opentelemetry/sdk-metrics';
import { expect, it } from 'vitest';
import { TalliedHistograms } from '../../../src/telemetry/tallied-histogram.js';

const BOUNDARIES = [0.001, 0.01, 0.1, 1];
/** Values on, between, below and above the boundaries, and two the SDK drops too (negative, NaN). */
const VALUES = [0, 0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.7, 1, 3, 42, -1, Number.NaN];

it('gives the Prometheus text the SDK histogram gives for the same values', async () => {
  const tallied = new TalliedHistograms({ name: 'test' });
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [tallied.producer()],
  });
  const provider = new MeterProvider({ readers: [exporter] });
  const sdk = provider.getMeter('test').createHistogram('sdk_seconds', {
    description: 'd',
    unit: 's',
    advice: { explicitBucketBoundaries: BOUNDARIES },
  });
  const ours = tallied.create('ours_seconds', {
    description: 'd',
    unit: 's',
    boundaries: BOUNDARIES,
    label: 'route',
  });
  VALUES.forEach((v, i) => {
    const route = i % 3 === 0 ? 'mcp' : 'legacy_sse';
    sdk.record(v, { route });
    ours.record(v, route);
  });
  const { resourceMetrics } = await exporter.collect();
  const text = new PrometheusSerializer('', false, undefined, true, true).serialize(resourceMetrics);
  const lines = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name) || l.includes(` ${name}`))
      .map((l) => l.replace(name, 'X'))
      .sort();
  expect(lines('ours_seconds').length).toBeGreaterThan(10);
  expect(lines('ours_seconds')).toEqual(lines('sdk_seconds'));
  await provider.shutdown();
});

it('hands a delta reader what each series gained since its last collection, and nothing for one that gained none', async () => {
  const tallied = new TalliedHistograms({ name: 'test' });
  const h = tallied.create('d_seconds', { description: 'd', unit: 's', boundaries: BOUNDARIES, label: 'k' });
  const delta = tallied.producer(AggregationTemporality.DELTA);
  const cumulative = tallied.producer();
  const points = async (p: typeof delta) => {
    const { resourceMetrics } = await p.collect();
    const m = resourceMetrics.scopeMetrics[0]?.metrics[0] as HistogramMetricData;
    return m.dataPoints.map((d) => ({ k: d.attributes.k, count: d.value.count, sum: d.value.sum }));
  };
  h.record(0.5, 'a');
  h.record(0.25, 'b');
  expect(await points(delta)).toEqual([
    { k: 'a', count: 1, sum: 0.5 },
    { k: 'b', count: 1, sum: 0.25 },
  ]);
  h.record(2, 'a');
  h.record(0.5, 'a');
  const second = (await delta.collect()).resourceMetrics.scopeMetrics[0]?.metrics[0] as HistogramMetricData;
  expect(second.aggregationTemporality).toBe(AggregationTemporality.DELTA);
  expect(second.dataPoints).toHaveLength(1);
  expect(second.dataPoints[0]?.value).toMatchObject({
    count: 2,
    sum: 2.5,
    buckets: { boundaries: BOUNDARIES, counts: [0, 0, 0, 1, 1] },
    min: 0.5,
    max: 2,
  });
  expect(second.dataPoints[0]?.startTime).not.toEqual(second.dataPoints[0]?.endTime);
  expect(await points(delta)).toEqual([]);
  // Another reader's collections change nothing for this one, nor its own for them.
  expect(await points(cumulative)).toEqual([
    { k: 'a', count: 3, sum: 3 },
    { k: 'b', count: 1, sum: 0.25 },
  ]);
});

it('gives each delta point the least and greatest value of its own interval, per reader', async () => {
  const tallied = new TalliedHistograms({ name: 'test' });
  const h = tallied.create('m_seconds', { description: 'm', unit: 's', boundaries: BOUNDARIES });
  h.record(0.01);
  h.record(4);
  // A reader added after records: its first point covers everything since the series began.
  const early = tallied.producer(AggregationTemporality.DELTA);
  const late = async (p: typeof early) => {
    const m = (await p.collect()).resourceMetrics.scopeMetrics[0]?.metrics[0] as HistogramMetricData;
    return m.dataPoints.map((d) => [d.value.count, d.value.min, d.value.max]);
  };
  expect(await late(early)).toEqual([[2, 0.01, 4]]);
  h.record(0.5);
  h.record(0.25);
  const other = tallied.producer(AggregationTemporality.DELTA);
  expect(await late(early)).toEqual([[2, 0.25, 0.5]]);
  h.record(1);
  expect(await late(early)).toEqual([[1, 1, 1]]);
  // The other reader's interval began with it and is its own.
  expect(await late(other)).toEqual([[5, 0.01, 4]]);
  expect(await late(other)).toEqual([]);
});
