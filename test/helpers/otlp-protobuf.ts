/**
 * Test helper: decodes OTLP/HTTP protobuf bodies (traces, logs, metrics) into the OTLP JSON mapping
 * (camelCase fields, hex trace and span ids, 64-bit numbers as decimal strings), so the OTLP receiver
 * reads both encodings the same way. A small schema-driven reader of the protobuf wire format over the
 * fields of opentelemetry-proto that the tests look at; unknown fields are skipped.
 *
 * @module
 */

type Kind = 'string' | 'bytes' | 'varint' | 'bool' | 'fixed64' | 'sfixed64' | 'double' | 'fixed32';
/** A scalar kind, or the name of a message; `[x]` is repeated (packed when scalar). */
type FieldType = Kind | string | readonly [Kind | string];
type Schema = Readonly<Record<number, readonly [name: string, type: FieldType]>>;

const KV: FieldType = ['KeyValue'];
const RESOURCE = [1, ['resource', 'Resource']] as const;
const SCOPE = [1, ['scope', 'Scope']] as const;

const SCHEMAS: Readonly<Record<string, Schema>> = {
  KeyValue: { 1: ['key', 'string'], 2: ['value', 'AnyValue'] },
  AnyValue: {
    1: ['stringValue', 'string'],
    2: ['boolValue', 'bool'],
    3: ['intValue', 'varint'],
    4: ['doubleValue', 'double'],
    5: ['arrayValue', 'ArrayValue'],
    6: ['kvlistValue', 'KeyValueList'],
    7: ['bytesValue', 'bytes'],
  },
  ArrayValue: { 1: ['values', ['AnyValue']] },
  KeyValueList: { 1: ['values', KV] },
  Resource: { 1: ['attributes', KV] },
  Scope: { 1: ['name', 'string'], 2: ['version', 'string'], 3: ['attributes', KV] },
  // Traces
  TracesRequest: { 1: ['resourceSpans', ['ResourceSpans']] },
  ResourceSpans: { [RESOURCE[0]]: RESOURCE[1], 2: ['scopeSpans', ['ScopeSpans']] },
  ScopeSpans: { [SCOPE[0]]: SCOPE[1], 2: ['spans', ['Span']] },
  Span: {
    1: ['traceId', 'bytes'],
    2: ['spanId', 'bytes'],
    3: ['traceState', 'string'],
    4: ['parentSpanId', 'bytes'],
    5: ['name', 'string'],
    6: ['kind', 'varint'],
    7: ['startTimeUnixNano', 'fixed64'],
    8: ['endTimeUnixNano', 'fixed64'],
    9: ['attributes', KV],
    11: ['events', ['Event']],
    13: ['links', ['Link']],
    15: ['status', 'Status'],
  },
  Event: { 1: ['timeUnixNano', 'fixed64'], 2: ['name', 'string'], 3: ['attributes', KV] },
  Link: { 1: ['traceId', 'bytes'], 2: ['spanId', 'bytes'], 4: ['attributes', KV] },
  Status: { 2: ['message', 'string'], 3: ['code', 'varint'] },
  // Logs
  LogsRequest: { 1: ['resourceLogs', ['ResourceLogs']] },
  ResourceLogs: { [RESOURCE[0]]: RESOURCE[1], 2: ['scopeLogs', ['ScopeLogs']] },
  ScopeLogs: { [SCOPE[0]]: SCOPE[1], 2: ['logRecords', ['LogRecord']] },
  LogRecord: {
    1: ['timeUnixNano', 'fixed64'],
    2: ['severityNumber', 'varint'],
    3: ['severityText', 'string'],
    5: ['body', 'AnyValue'],
    6: ['attributes', KV],
    9: ['traceId', 'bytes'],
    10: ['spanId', 'bytes'],
    11: ['observedTimeUnixNano', 'fixed64'],
    12: ['eventName', 'string'],
  },
  // Metrics
  MetricsRequest: { 1: ['resourceMetrics', ['ResourceMetrics']] },
  ResourceMetrics: { [RESOURCE[0]]: RESOURCE[1], 2: ['scopeMetrics', ['ScopeMetrics']] },
  ScopeMetrics: { [SCOPE[0]]: SCOPE[1], 2: ['metrics', ['Metric']] },
  Metric: {
    1: ['name', 'string'],
    2: ['description', 'string'],
    3: ['unit', 'string'],
    5: ['gauge', 'Gauge'],
    7: ['sum', 'Sum'],
    9: ['histogram', 'Histogram'],
  },
  Gauge: { 1: ['dataPoints', ['NumberDataPoint']] },
  Sum: {
    1: ['dataPoints', ['NumberDataPoint']],
    2: ['aggregationTemporality', 'varint'],
    3: ['isMonotonic', 'bool'],
  },
  Histogram: { 1: ['dataPoints', ['HistogramDataPoint']], 2: ['aggregationTemporality', 'varint'] },
  NumberDataPoint: {
    7: ['attributes', KV],
    2: ['startTimeUnixNano', 'fixed64'],
    3: ['timeUnixNano', 'fixed64'],
    4: ['asDouble', 'double'],
    6: ['asInt', 'sfixed64'],
  },
  HistogramDataPoint: {
    9: ['attributes', KV],
    2: ['startTimeUnixNano', 'fixed64'],
    3: ['timeUnixNano', 'fixed64'],
    4: ['count', 'fixed64'],
    5: ['sum', 'double'],
    6: ['bucketCounts', ['fixed64']],
    7: ['explicitBounds', ['double']],
    11: ['min', 'double'],
    12: ['max', 'double'],
  },
};

class Reader {
  readonly buf: Buffer;
  readonly end: number;
  pos: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('protobuf: truncated varint');
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  }

  take(n: number): [number, number] {
    const start = this.pos;
    this.pos += n;
    if (this.pos > this.end) throw new Error('protobuf: truncated field');
    return [start, this.pos];
  }
}

function scalar(kind: Kind, r: Reader, wire: number): unknown {
  switch (kind) {
    case 'varint':
      return Number(BigInt.asIntN(64, r.varint()));
    case 'bool':
      return r.varint() !== 0n;
    case 'fixed64':
      return r.buf.readBigUInt64LE(r.take(8)[0]).toString();
    case 'sfixed64':
      return r.buf.readBigInt64LE(r.take(8)[0]).toString();
    case 'double':
      return r.buf.readDoubleLE(r.take(8)[0]);
    case 'fixed32':
      return r.buf.readUInt32LE(r.take(4)[0]);
    default: {
      if (wire !== 2) throw new Error(`protobuf: ${kind} field with wire type ${wire}`);
      const [s, e] = r.take(Number(r.varint()));
      return kind === 'string' ? r.buf.toString('utf8', s, e) : r.buf.subarray(s, e).toString('hex');
    }
  }
}

const isKind = (t: string): t is Kind =>
  ['string', 'bytes', 'varint', 'bool', 'fixed64', 'sfixed64', 'double', 'fixed32'].includes(t);

function skip(r: Reader, wire: number): void {
  if (wire === 0) r.varint();
  else if (wire === 1) r.take(8);
  else if (wire === 2) r.take(Number(r.varint()));
  else if (wire === 5) r.take(4);
  else throw new Error(`protobuf: unsupported wire type ${wire}`);
}

function message(type: string, r: Reader): Record<string, unknown> {
  const schema = SCHEMAS[type];
  if (!schema) throw new Error(`protobuf: no schema for ${type}`);
  const out: Record<string, unknown> = {};
  while (r.pos < r.end) {
    const tag = Number(r.varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    const spec = schema[field];
    if (!spec) {
      skip(r, wire);
      continue;
    }
    const [name, ft] = spec;
    const repeated = Array.isArray(ft);
    const t = (repeated ? ft[0] : ft) as string;
    const values: unknown[] = [];
    if (isKind(t) && repeated && wire === 2 && t !== 'string' && t !== 'bytes') {
      const [s, e] = r.take(Number(r.varint()));
      const packed = new Reader(r.buf, s, e);
      while (packed.pos < packed.end)
        values.push(scalar(t, packed, t === 'double' || t === 'fixed64' ? 1 : 0));
    } else if (isKind(t)) {
      values.push(scalar(t, r, wire));
    } else {
      const [s, e] = r.take(Number(r.varint()));
      values.push(message(t, new Reader(r.buf, s, e)));
    }
    if (repeated) {
      const list = (out[name] as unknown[] | undefined) ?? [];
      list.push(...values);
      out[name] = list;
    } else out[name] = values[0];
  }
  return out;
}

const REQUEST: Record<string, string> = {
  '/v1/traces': 'TracesRequest',
  '/v1/logs': 'LogsRequest',
  '/v1/metrics': 'MetricsRequest',
};

/** The export request posted to `path` (`/v1/traces`, `/v1/logs`, `/v1/metrics`), in the JSON mapping. */
export function decodeOtlpProtobuf(path: string, body: Buffer): Record<string, unknown> {
  const type = REQUEST[path];
  if (!type) throw new Error(`protobuf: no OTLP request type for ${path}`);
  return message(type, new Reader(body));
}
