/**
 * Child-process entry of the proxy benchmark: a minimal OTLP/HTTP receiver (the stand-in for a collector)
 * that the telemetry sidecar exports its traces, metrics and logs to. It answers `200 {}` to every
 * `POST /v1/traces|metrics|logs` once the body is read, and counts requests and bytes per signal; it does
 * not decode the JSON (a collector's cost is not the sidecar's), but counts records by scanning the raw
 * body for keys that occur once per record (OTLP/HTTP JSON as the `exporter-*-otlp-http` packages send it):
 *
 * - spans: `"spanId":"` (parent ids are `parentSpanId`; there are no links), of which server spans
 *   (`"kind":2`) say how many requests were traced;
 * - log records: `"timeUnixNano"` (`observedTimeUnixNano` does not match);
 * - metric data points: not counted, only export requests and bytes.
 *
 * On IPC `stats` it answers with the counts so far, on `cpu` with its own CPU time (µs).
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type OtlpSignal = 'traces' | 'metrics' | 'logs';

export interface OtlpCounts {
  readonly requests: number;
  readonly bytes: number;
  /** traces: spans; logs: log records; metrics: 0. */
  readonly records: number;
  /** traces: server spans (one per traced HTTP request). */
  readonly serverSpans: number;
}

export interface OtlpSinkReady {
  readonly type: 'ready';
  /** For `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
}

export interface OtlpStats {
  readonly type: 'stats';
  readonly signals: Record<OtlpSignal, OtlpCounts>;
  readonly rejected: number;
}

const SIGNALS: Record<string, OtlpSignal> = {
  '/v1/traces': 'traces',
  '/v1/metrics': 'metrics',
  '/v1/logs': 'logs',
};

function occurrences(buf: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + needle.length)) n++;
  return n;
}

const SPAN = Buffer.from('"spanId":"');
const SERVER = Buffer.from('"kind":2');
const LOG = Buffer.from('"timeUnixNano"');

const counts: Record<OtlpSignal, { requests: number; bytes: number; records: number; serverSpans: number }> =
  {
    traces: { requests: 0, bytes: 0, records: 0, serverSpans: 0 },
    metrics: { requests: 0, bytes: 0, records: 0, serverSpans: 0 },
    logs: { requests: 0, bytes: 0, records: 0, serverSpans: 0 },
  };
let rejected = 0;

const server = createServer((req, res) => {
  const signal = req.method === 'POST' ? SIGNALS[(req.url ?? '/').split('?')[0] as string] : undefined;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (!signal) {
      rejected++;
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    const wire = Buffer.concat(chunks);
    const c = counts[signal];
    c.requests++;
    c.bytes += wire.length;
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
    if (signal === 'traces') {
      c.records += occurrences(body, SPAN);
      c.serverSpans += occurrences(body, SERVER);
    } else if (signal === 'logs') c.records += occurrences(body, LOG);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const ready: OtlpSinkReady = { type: 'ready', endpoint: `http://127.0.0.1:${port}` };
  process.send?.(ready);
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') {
    const stats: OtlpStats = {
      type: 'stats',
      signals: {
        traces: { ...counts.traces },
        metrics: { ...counts.metrics },
        logs: { ...counts.logs },
      },
      rejected,
    };
    process.send?.(stats);
  } else if (m.type === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ type: 'cpu', us: u.user + u.system });
  } else if (m.type === 'stop') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
