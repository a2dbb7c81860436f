/**
 * An in-process OTLP/HTTP receiver for tests: a `node:http` server on a free loopback port that accepts
 * both encodings, protobuf (`application/x-protobuf`, the default, as the `exporter-*-otlp-proto` packages
 * send it; read by `otlp-protobuf.ts`) and JSON (`application/json`, the `exporter-*-otlp-http` packages),
 * optionally gzip, on `/v1/traces`, `/v1/logs` and `/v1/metrics`, and decodes every request into flat
 * records (hex ids, attributes as plain objects, resource attributes alongside). Other types get 415.
 *
 * @module
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeOtlpProtobuf } from './otlp-protobuf.js';

export type Attributes = Record<string, unknown>;

export interface ReceivedSpan {
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: Attributes;
  readonly status: { readonly code: number; readonly message?: string };
  readonly events: readonly { readonly name: string; readonly attributes: Attributes }[];
  readonly links: readonly {
    readonly traceId: string;
    readonly spanId: string;
    readonly attributes: Attributes;
  }[];
  readonly scope: string;
  readonly resource: Attributes;
}

export interface ReceivedLog {
  readonly timeUnixNano: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly eventName: string;
  readonly body: unknown;
  readonly attributes: Attributes;
  readonly traceId: string;
  readonly spanId: string;
  readonly scope: string;
  readonly resource: Attributes;
}

export interface ReceivedMetric {
  readonly name: string;
  readonly unit: string;
  readonly type: 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram' | 'summary' | 'unknown';
  readonly dataPoints: readonly { readonly attributes: Attributes; readonly value: unknown }[];
  readonly scope: string;
  readonly resource: Attributes;
}

export interface OtlpReceiver {
  /** Base URL for `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://127.0.0.1:4318`. */
  readonly endpoint: string;
  spans(): ReceivedSpan[];
  logs(): ReceivedLog[];
  metrics(): ReceivedMetric[];
  /** Every request seen, raw: path, headers and decoded body (JSON mapping for protobuf too). */
  requests(): { path: string; headers: IncomingMessage['headers']; body: unknown }[];
  /** Resolves once `pred()` holds (polled), rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs?: number): Promise<void>;
  /** Next requests get this status (e.g. 503 to test export failures); null restores 200. */
  failWith(status: number | null): void;
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const rec = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});

/** OTLP JSON ids are hex; tolerate base64 (the protobuf-JSON mapping) too. */
function hexId(v: unknown): string {
  if (typeof v !== 'string' || v === '') return '';
  if (/^[0-9a-f]+$/i.test(v) && (v.length === 32 || v.length === 16)) return v.toLowerCase();
  return Buffer.from(v, 'base64').toString('hex');
}

export function anyValue(v: unknown): unknown {
  const o = rec(v);
  if ('stringValue' in o) return o.stringValue;
  if ('boolValue' in o) return o.boolValue;
  if ('intValue' in o) return Number(o.intValue);
  if ('doubleValue' in o) return Number(o.doubleValue);
  if ('bytesValue' in o) return o.bytesValue;
  if ('arrayValue' in o) return arr(rec(o.arrayValue).values).map(anyValue);
  if ('kvlistValue' in o) return attributes(rec(o.kvlistValue).values);
  return null;
}

export function attributes(kvs: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of arr(kvs)) out[String(kv.key)] = anyValue(kv.value);
  return out;
}

/** The spans of an export request in the JSON mapping (also `bench/telemetry-floor.ts`'s reader). */
export function decodeTraces(body: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of arr(body.resourceSpans)) {
    const resource = attributes(rec(rs.resource).attributes);
    for (const ss of arr(rs.scopeSpans)) {
      const scope = String(rec(ss.scope).name ?? '');
      for (const s of arr(ss.spans)) {
        const status = rec(s.status);
        out.push({
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          startTimeUnixNano: String(s.startTimeUnixNano ?? ''),
          endTimeUnixNano: String(s.endTimeUnixNano ?? ''),
          attributes: attributes(s.attributes),
          status: {
            code: Number(status.code ?? 0),
            ...(typeof status.message === 'string' ? { message: status.message } : {}),
          },
          events: arr(s.events).map((e) => ({ name: String(e.name), attributes: attributes(e.attributes) })),
          links: arr(s.links).map((l) => ({
            traceId: hexId(l.traceId),
            spanId: hexId(l.spanId),
            attributes: attributes(l.attributes),
          })),
          scope,
          resource,
        });
      }
    }
  }
  return out;
}

/** The log records of an export request in the JSON mapping. */
export function decodeLogs(body: Json): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of arr(body.resourceLogs)) {
    const resource = attributes(rec(rl.resource).attributes);
    for (const sl of arr(rl.scopeLogs)) {
      const scope = String(rec(sl.scope).name ?? '');
      for (const l of arr(sl.logRecords)) {
        out.push({
          timeUnixNano: String(l.timeUnixNano ?? ''),
          severityNumber: Number(l.severityNumber ?? 0),
          severityText: String(l.severityText ?? ''),
          eventName: String(l.eventName ?? ''),
          body: anyValue(l.body),
          attributes: attributes(l.attributes),
          traceId: hexId(l.traceId),
          spanId: hexId(l.spanId),
          scope,
          resource,
        });
      }
    }
  }
  return out;
}

const METRIC_TYPES = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'] as const;

function decodeMetrics(body: Json): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of arr(body.resourceMetrics)) {
    const resource = attributes(rec(rm.resource).attributes);
    for (const sm of arr(rm.scopeMetrics)) {
      const scope = String(rec(sm.scope).name ?? '');
      for (const m of arr(sm.metrics)) {
        const type = METRIC_TYPES.find((t) => t in m) ?? 'unknown';
        const data = rec(m[type]);
        out.push({
          name: String(m.name),
          unit: String(m.unit ?? ''),
          type,
          dataPoints: arr(data.dataPoints).map((p) => {
            const { attributes: a, ...rest } = p;
            const value =
              'asInt' in rest ? Number(rest.asInt) : 'asDouble' in rest ? Number(rest.asDouble) : rest;
            return { attributes: attributes(a), value };
          }),
          scope,
          resource,
        });
      }
    }
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics: ReceivedMetric[] = [];
  const requests: { path: string; headers: IncomingMessage['headers']; body: unknown }[] = [];
  let failStatus: number | null = null;

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    readBody(req).then(
      (buf) => {
        if (req.method !== 'POST' || !['/v1/traces', '/v1/logs', '/v1/metrics'].includes(path)) {
          res.writeHead(404).end();
          return;
        }
        const type = String(req.headers['content-type'] ?? '');
        const protobuf = type.startsWith('application/x-protobuf');
        if (!protobuf && !type.startsWith('application/json')) {
          res
            .writeHead(415, { 'content-type': 'text/plain' })
            .end('only OTLP/HTTP protobuf and JSON are decoded');
          return;
        }
        if (failStatus !== null) {
          res.writeHead(failStatus, { 'content-type': 'application/json' }).end('{}');
          return;
        }
        let body: Json;
        try {
          body = protobuf ? decodeOtlpProtobuf(path, buf) : rec(JSON.parse(buf.toString('utf8')));
        } catch {
          res.writeHead(400).end();
          return;
        }
        requests.push({ path, headers: req.headers, body });
        if (path === '/v1/traces') spans.push(...decodeTraces(body));
        else if (path === '/v1/logs') logs.push(...decodeLogs(body));
        else metrics.push(...decodeMetrics(body));
        // An empty ExportServiceResponse in either encoding (full success).
        if (protobuf) res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...spans],
    logs: () => [...logs],
    metrics: () => [...metrics],
    requests: () => [...requests],
    async waitFor(pred, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: condition not met in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    failWith(status) {
      failStatus = status;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
