/**
 * Observable gauges exported over OTLP are collected with delta temporality: a collection then reports
 * exactly the series the callback observed. With the SDK's cumulative default, every series a gauge ever
 * reported is kept and re-exported with its last value, so `mcp_authz_policy_revision_info{revision}` would
 * grow by one series per bundle revision for the life of the process. Gauges have no temporality on the
 * wire: only the SDK's memory changes. (With two readers on one provider, delta collections hand one
 * reader's observations to the other: the revision gauge therefore sits on the OTLP-only provider, which
 * has one reader, and `/metrics` writes it itself.) Every other instrument keeps the exporter's choice.
 *
 * @module
 */
import { AggregationTemporality, InstrumentType, type PushMetricExporter } from '@opentelemetry/sdk-metrics';

/** `exporter`, its temporality choice changed for observable gauges: delta. */
export function gaugesAsDelta<E extends PushMetricExporter>(exporter: E): E {
  const own = exporter.selectAggregationTemporality?.bind(exporter);
  exporter.selectAggregationTemporality = (type) =>
    type === InstrumentType.OBSERVABLE_GAUGE
      ? AggregationTemporality.DELTA
      : (own?.(type) ?? AggregationTemporality.CUMULATIVE);
  return exporter;
}
