/**
 * Prometheus text as `/metrics` serves it.
 *
 * @module
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const REVISION_INFO = 'mcp_authz_policy_revision_info';
export const REVISION_INFO_HELP = '1 for the loaded policy bundle revision (absent while none is loaded).';

/** A Prometheus label value: backslash, double quote and line feed escaped. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** `mcp_authz_policy_revision_info` in Prometheus text: `revision` at 1, nothing without one. */
export function revisionInfoText(revision: string | null): string {
  if (revision === null) return '';
  const head = `# HELP ${REVISION_INFO} ${REVISION_INFO_HELP}\n# TYPE ${REVISION_INFO} gauge\n`;
  return `${head}${REVISION_INFO}{revision="${escapeLabel(revision)}"} 1\n`;
}

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
