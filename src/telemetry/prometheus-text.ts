/**
 * Prometheus text as `/metrics` serves it.
 *
 * @module
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Moves each histogram data point's `_bucket` lines before its `_sum` and `_count` (the order the
 * Prometheus client libraries write, and one simple parsers rely on); the OpenTelemetry serializer writes
 * count, sum, buckets. Nothing else changes.
 */
export function bucketsFirst(text: string): string {
  const out: string[] = [];
  let histogram: string | null = null;
  let head: string[] = [];
  let buckets: string[] = [];
  const flush = () => {
    out.push(...buckets, ...head);
    head = [];
    buckets = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') {
      flush();
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (m) histogram = m[2] === 'histogram' ? (m[1] as string) : null;
      out.push(line);
    } else if (histogram && line.startsWith(`${histogram}_bucket`)) {
      buckets.push(line);
    } else if (histogram && line.startsWith(`${histogram}_count`)) {
      flush();
      head.push(line);
    } else if (histogram && line.startsWith(`${histogram}_sum`)) {
      head.push(line);
    } else {
      flush();
      out.push(line);
    }
  }
  flush();
  return out.join('\n');
}
