/**
 * Counts records in an OTLP/HTTP export body without decoding it, for the benchmark's receiver
 * (`otlp-sink.ts`): spans (and server spans among them) in a traces request, log records in a logs request.
 * JSON bodies (`exporter-*-otlp-http`) are scanned for keys that occur once per record; protobuf bodies
 * (`exporter-*-otlp-proto`, the default) are walked field by field down to the records, skipping the rest.
 *
 * - JSON spans: `"spanId":"` (parent ids are `parentSpanId`; there are no links); server spans `"kind":2`.
 * - JSON log records: `"timeUnixNano"` (`observedTimeUnixNano` does not match).
 * - Protobuf: ExportTraceServiceRequest.resource_spans(1) → scope_spans(2) → spans(2), a span's kind is
 *   field 6; ExportLogsServiceRequest.resource_logs(1) → scope_logs(2) → log_records(2).
 *
 * @module
 */

export interface RecordCount {
  readonly records: number;
  /** Traces: spans of kind SERVER (one per traced HTTP request). */
  readonly serverSpans: number;
}

function occurrences(buf: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + needle.length)) n++;
  return n;
}

const SPAN = Buffer.from('"spanId":"');
const SERVER = Buffer.from('"kind":2');
const LOG = Buffer.from('"timeUnixNano"');
const SPAN_KIND_SERVER = 2;

/** Reads a varint at `pos` (values used here stay below 2^31); returns [value, next position]. */
function varint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let p = pos; p < buf.length; p++) {
    const b = buf[p] as number;
    if (shift < 31) value |= (b & 0x7f) << shift;
    shift += 7;
    if (b < 0x80) return [value >>> 0, p + 1];
  }
  throw new Error('truncated protobuf varint');
}

/** Calls `visit(field, start, end)` for each length-delimited field of the message in [start, end). */
function fields(
  buf: Buffer,
  start: number,
  end: number,
  visit: (f: number, s: number, e: number) => void,
): void {
  let p = start;
  while (p < end) {
    const [tag, afterTag] = varint(buf, p);
    const wire = tag & 7;
    p = afterTag;
    if (wire === 0) p = varint(buf, p)[1];
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const [len, s] = varint(buf, p);
      p = s + len;
      visit(tag >>> 3, s, p);
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

/** The varint field `field` of the message in [start, end), or undefined. */
function varintField(buf: Buffer, start: number, end: number, field: number): number | undefined {
  let p = start;
  while (p < end) {
    const [tag, afterTag] = varint(buf, p);
    const wire = tag & 7;
    p = afterTag;
    if (wire === 0) {
      const [v, next] = varint(buf, p);
      if (tag >>> 3 === field) return v;
      p = next;
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const [len, s] = varint(buf, p);
      p = s + len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return undefined;
}

function countProtobuf(signal: 'traces' | 'logs', body: Buffer): RecordCount {
  let records = 0;
  let serverSpans = 0;
  fields(body, 0, body.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    fields(body, s1, e1, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(body, s2, e2, (f3, s3, e3) => {
        if (f3 !== 2) return;
        records++;
        if (signal === 'traces' && varintField(body, s3, e3, 6) === SPAN_KIND_SERVER) serverSpans++;
      });
    });
  });
  return { records, serverSpans };
}

/** Records in one (decompressed) export body of `signal`, by its content type. */
export function countRecords(signal: 'traces' | 'logs', body: Buffer, contentType: string): RecordCount {
  if (contentType.startsWith('application/x-protobuf')) return countProtobuf(signal, body);
  if (signal === 'traces')
    return { records: occurrences(body, SPAN), serverSpans: occurrences(body, SERVER) };
  return { records: occurrences(body, LOG), serverSpans: 0 };
}
