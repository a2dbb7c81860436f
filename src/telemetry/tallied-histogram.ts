/**
 * Histograms summed in the process and handed to each metric reader by a `MetricProducer` of their own,
 * as `tally.ts` does for counters. The SDK's synchronous histogram hashes the attributes of every record
 * (sorting their keys and writing them out as JSON), which was most of what a record cost; the per-request
 * histograms have at most one label, so a record here is one Map lookup by the label's value and a walk along
 * the bucket boundaries. What a reader collects is what the SDK's explicit-bucket histogram gives it:
 * cumulative for Prometheus, and for OTLP the temporality its exporter asks for. A delta point's min and max
 * are those of its interval: each delta producer has a slot in every series, lowered and raised by the records
 * and reset when it collects (a difference of two totals cannot give them).
 *
 * @module
 */
import type { Attributes, HrTime, Meter } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  type DataPoint,
  DataPointType,
  type HistogramMetricData,
  type Histogram as HistogramValue,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

/** Where instruments go: the meter, and the tallied histograms its readers collect (`Telemetry` is one). */
export interface MetricSink {
  readonly meter: Meter;
  readonly histograms: TalliedHistograms;
}

export interface HistogramOptions {
  readonly description: string;
  readonly unit: string;
  /** Inclusive upper bounds, ascending; one more bucket counts what is above the last. */
  readonly boundaries: readonly number[];
  /** The name of its one label; none when omitted. */
  readonly label?: string;
}

/** The instrumentation scope the producers report their histograms under. */
type Scope = { readonly name: string; readonly version?: string };

interface Series {
  readonly attributes: Attributes;
  readonly startTime: HrTime;
  readonly counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
  /** Per delta producer (by its slot): the least and greatest value since it last collected. */
  readonly lows: number[];
  readonly highs: number[];
}

/** How many delta producers the histograms of one registry have handed out (each a slot in every series). */
interface Slots {
  count: number;
}

export class TalliedHistogram {
  readonly name: string;
  readonly options: HistogramOptions;
  readonly #series = new Map<string, Series>();
  readonly #slots: Slots;

  constructor(name: string, options: HistogramOptions, slots: Slots = { count: 0 }) {
    this.name = name;
    this.options = options;
    this.#slots = slots;
  }

  /** Records `value` in the series of `labelValue` (ignored without a label). Negative and NaN are dropped. */
  record(value: number, labelValue = ''): void {
    if (!(value >= 0)) return;
    let s = this.#series.get(labelValue);
    if (s === undefined) {
      const label = this.options.label;
      s = {
        attributes: label === undefined ? {} : { [label]: labelValue },
        startTime: hrTime(),
        counts: new Array<number>(this.options.boundaries.length + 1).fill(0),
        sum: 0,
        count: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        lows: new Array<number>(this.#slots.count).fill(Number.POSITIVE_INFINITY),
        highs: new Array<number>(this.#slots.count).fill(Number.NEGATIVE_INFINITY),
      };
      this.#series.set(labelValue, s);
    }
    const lows = s.lows;
    const highs = s.highs;
    for (let j = 0; j < lows.length; j++) {
      if (value < (lows[j] as number)) lows[j] = value;
      if (value > (highs[j] as number)) highs[j] = value;
    }
    const bounds = this.options.boundaries;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
  }

  /**
   * Gives every series a slot for a new delta producer, holding its extremes so far: that producer's first
   * collection reports everything since the series began.
   */
  addSlot(): void {
    for (const s of this.#series.values()) {
      s.lows.push(s.min);
      s.highs.push(s.max);
    }
  }

  /** Every series, with its totals since it began. */
  series(): Iterable<Readonly<Series>> {
    return this.#series.values();
  }
}

/** The process's tallied histograms, and the producers that hand them to metric readers. */
export class TalliedHistograms {
  readonly #all: TalliedHistogram[] = [];
  readonly #scope: Scope;
  readonly #slots: Slots = { count: 0 };

  constructor(scope: Scope) {
    this.#scope = scope;
  }

  create(name: string, options: HistogramOptions): TalliedHistogram {
    const h = new TalliedHistogram(name, options, this.#slots);
    this.#all.push(h);
    return h;
  }

  /**
   * A producer for one reader (each reader its own: a delta one remembers what it last reported).
   * `temporality`: what the reader's exporter selects for histograms.
   */
  producer(temporality = AggregationTemporality.CUMULATIVE): MetricProducer {
    if (temporality === AggregationTemporality.DELTA) {
      for (const h of this.#all) h.addSlot();
      return new DeltaProducer(this.#all, this.#scope, this.#slots.count++);
    }
    return {
      collect: async () => {
        const endTime = hrTime();
        return collected(
          this.#scope,
          this.#all.map((h) => cumulative(h, endTime)),
        );
      },
    };
  }
}

/** What a producer hands its reader (whose own resource replaces the empty one). */
function collected(scope: Scope, metrics: HistogramMetricData[]): CollectionResult {
  return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope, metrics }] }, errors: [] };
}

function metricData(
  h: TalliedHistogram,
  temporality: AggregationTemporality,
  dataPoints: DataPoint<HistogramValue>[],
): HistogramMetricData {
  return {
    descriptor: {
      name: h.name,
      description: h.options.description,
      unit: h.options.unit,
      valueType: ValueType.DOUBLE,
    },
    aggregationTemporality: temporality,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  };
}

function cumulative(h: TalliedHistogram, endTime: HrTime): HistogramMetricData {
  const points: DataPoint<HistogramValue>[] = [];
  for (const s of h.series()) {
    points.push({
      attributes: s.attributes,
      startTime: s.startTime,
      endTime,
      value: {
        buckets: { boundaries: [...h.options.boundaries], counts: [...s.counts] },
        sum: s.sum,
        count: s.count,
        min: s.min,
        max: s.max,
      },
    });
  }
  return metricData(h, AggregationTemporality.CUMULATIVE, points);
}

/** Reports what each series gained since this producer's last collection; series that gained nothing, not. */
class DeltaProducer implements MetricProducer {
  readonly #all: readonly TalliedHistogram[];
  readonly #scope: Scope;
  /** This producer's slot in every series' `lows` and `highs`. */
  readonly #slot: number;
  /** Per series, its totals at the last collection and when that was. */
  readonly #last = new WeakMap<object, { counts: number[]; sum: number; count: number; time: HrTime }>();

  constructor(all: readonly TalliedHistogram[], scope: Scope, slot: number) {
    this.#all = all;
    this.#scope = scope;
    this.#slot = slot;
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime();
    const metrics = this.#all.map((h) => {
      const points: DataPoint<HistogramValue>[] = [];
      for (const s of h.series()) {
        const last = this.#last.get(s);
        this.#last.set(s, { counts: [...s.counts], sum: s.sum, count: s.count, time: endTime });
        const count = s.count - (last?.count ?? 0);
        // Its interval's extremes, reset for the next.
        const min = s.lows[this.#slot] as number;
        const max = s.highs[this.#slot] as number;
        s.lows[this.#slot] = Number.POSITIVE_INFINITY;
        s.highs[this.#slot] = Number.NEGATIVE_INFINITY;
        if (count === 0) continue;
        points.push({
          attributes: s.attributes,
          startTime: last?.time ?? s.startTime,
          endTime,
          value: {
            buckets: {
              boundaries: [...h.options.boundaries],
              counts: s.counts.map((c, i) => c - (last?.counts[i] ?? 0)),
            },
            sum: s.sum - (last?.sum ?? 0),
            count,
            min,
            max,
          },
        });
      }
      return metricData(h, AggregationTemporality.DELTA, points);
    });
    return collected(this.#scope, metrics);
  }
}
