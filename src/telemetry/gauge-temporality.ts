/**
 * Observable gauges are collected with delta temporality, by the Prometheus reader and the OTLP metric
 * exporter alike: a collection then reports exactly the series the callback observed. With the SDK's
 * cumulative default, every series a gauge ever reported is kept and re-exported with its last value, so
 * `mcp_authz_policy_revision_info{revision}` grew by one series per bundle revision for the life of the
 * process. Gauges have no temporality on the wire (OTLP, Prometheus): only the SDK's memory changes.
 * Every other instrument keeps the reader's or exporter's own choice.
 *
 * @module
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { AggregationTemporality, InstrumentType, type PushMetricExporter } from '@opentelemetry/sdk-metrics';

/** The Prometheus pull reader, with observable gauges reporting only what their callback observed. */
export class PrometheusGaugeDeltaReader extends PrometheusExporter {
  override selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return type === InstrumentType.OBSERVABLE_GAUGE
      ? AggregationTemporality.DELTA
      : super.selectAggregationTemporality(type);
  }
}

/** `exporter`, its temporality choice changed the same way for observable gauges. */
export function gaugesAsDelta<E extends PushMetricExporter>(exporter: E): E {
  const own = exporter.selectAggregationTemporality?.bind(exporter);
  exporter.selectAggregationTemporality = (type) =>
    type === InstrumentType.OBSERVABLE_GAUGE
      ? AggregationTemporality.DELTA
      : (own?.(type) ?? AggregationTemporality.CUMULATIVE);
  return exporter;
}
