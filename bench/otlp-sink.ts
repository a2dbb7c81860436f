/**
 * Child-process entry of the proxy benchmark: a minimal OTLP/HTTP receiver (the stand-in for a collector)
 * that the telemetry sidecar exports its traces, metrics and logs to. It answers `200 {}` to every
 * `POST /v1/traces|metrics|logs` once the body is read, and counts requests and bytes per signal; it does
 * not decode the body (a collector's cost is not the sidecar's), but counts spans, server spans (how many
 * requests were traced) and log records in protobuf or JSON without decoding (`otlp-count.ts`); metric
 * data points are not counted, only export requests and bytes.
 *
 * On IPC `stats` it answers with the counts so far, on `cpu` with its own CPU time (µs), on `sample` with
 * the last protobuf body it got of traces and of logs (base64), which `telemetry-floor.ts` replays.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { countRecords } from './otlp-count.js';

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

const counts: Record<OtlpSignal, { requests: number; bytes: number; records: number; serverSpans: number }> =
  {
    traces: { requests: 0, bytes: 0, records: 0, serverSpans: 0 },
    metrics: { requests: 0, bytes: 0, records: 0, serverSpans: 0 },
    logs: { requests: 0, bytes: 0, records: 0, serverSpans: 0 },
  };
let rejected = 0;
/** The last protobuf body of each signal: a sample of what the sidecar exports. */
const last: Partial<Record<OtlpSignal, Buffer>> = {};

export interface OtlpSample {
  readonly type: 'sample';
  /** base64 of an `ExportTraceServiceRequest` / `ExportLogsServiceRequest`; null when none came. */
  readonly traces: string | null;
  readonly logs: string | null;
}

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
    const type = String(req.headers['content-type'] ?? '');
    if (signal !== 'metrics') {
      try {
        const n = countRecords(signal, body, type);
        c.records += n.records;
        c.serverSpans += n.serverSpans;
        if (type.startsWith('application/x-protobuf')) last[signal] = body;
      } catch {
        rejected++;
      }
    }
    // An empty ExportServiceResponse (full success) in the request's encoding.
    if (type.startsWith('application/x-protobuf'))
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    else res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
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
  } else if (m.type === 'sample') {
    const b64 = (b: Buffer | undefined) => b?.toString('base64') ?? null;
    const sample: OtlpSample = { type: 'sample', traces: b64(last.traces), logs: b64(last.logs) };
    process.send?.(sample);
  } else if (m.type === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ type: 'cpu', us: u.user + u.system });
  } else if (m.type === 'stop') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
