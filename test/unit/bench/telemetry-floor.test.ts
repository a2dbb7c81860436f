/**
 * Tests of the telemetry floor's parts that can be wrong without a benchmark run: which request
 * `planOf` picks out of an export body (bench/telemetry-plan.ts), and the budget arithmetic and verdict
 * of its RESULTS table (`floorSection` in bench/report-telemetry.ts).
 *
 * @module
 */
import { SpanKind } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { floorSection } from '../../../bench/report-telemetry.js';
import type { FloorOnNode } from '../../../bench/telemetry-floor-run.js';
import { planOf } from '../../../bench/telemetry-plan.js';
import type { ReceivedLog, ReceivedSpan } from '../../helpers/otlp-receiver.js';

function span(
  traceId: string,
  spanId: string,
  parentSpanId: string,
  name: string,
  kind: number,
  start: number,
  end: number,
): ReceivedSpan {
  return {
    name,
    kind,
    traceId,
    spanId,
    parentSpanId,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(end),
    attributes: { 'authz.stage': name },
    status: { code: 0 },
    events: [],
    links: [],
    scope: 'mcp-authz',
    resource: {},
  };
}

function log(traceId: string, spanId: string): ReceivedLog {
  return {
    timeUnixNano: '1',
    severityNumber: 9,
    severityText: 'INFO',
    eventName: 'mcp_authz.audit',
    body: '{"decision":"allow"}',
    attributes: { 'authz.decision': 'allow' },
    traceId,
    spanId,
    scope: 'mcp-authz',
    resource: {},
  };
}

// Trace a: whole (server span + two children). Trace b: its server span went in another export, so its
// children have no root here. Trace c: whole but smaller.
const SPANS = [
  span('b', 'b2', 'b1', 'child of a missing root', 1, 5, 6),
  span('b', 'b3', 'b1', 'another', 1, 5, 6),
  span('b', 'b4', 'b1', 'and another', 1, 5, 6),
  span('a', 'a2', 'a1', 'decide', 1, 20, 30),
  span('a', 'a3', 'a1', 'forward', 3, 31, 50),
  span('a', 'a1', '', 'POST /mcp', 2, 10, 60),
  span('c', 'c1', '', 'GET /mcp', 2, 1, 2),
];

describe('planOf', () => {
  it('picks the largest whole trace, parents before children, with API span kinds', () => {
    const plan = planOf(SPANS, [log('a', 'a2')]);
    expect(plan.spans.map((s) => s.name)).toEqual(['POST /mcp', 'decide', 'forward']);
    expect(plan.spans.map((s) => s.parent)).toEqual([-1, 0, 0]);
    expect(plan.spans.map((s) => s.kind)).toEqual([SpanKind.SERVER, SpanKind.INTERNAL, SpanKind.CLIENT]);
    expect(plan.spans[1]?.attributes).toEqual({ 'authz.stage': 'decide' });
  });

  it('ends the spans in the order they ended, children before the server span', () => {
    expect(planOf(SPANS, []).endOrder).toEqual([1, 2, 0]);
  });

  it("takes the trace's own log record and its span; another record in the server span's context", () => {
    const own = planOf(SPANS, [log('z', 'z1'), log('a', 'a2')]);
    expect(own.log?.traceId).toBe('a');
    expect(own.logSpan).toBe(1);
    const other = planOf(SPANS, [log('z', 'z1')]);
    expect(other.log?.traceId).toBe('z');
    expect(other.logSpan).toBe(0);
    expect(planOf(SPANS, []).log).toBeUndefined();
  });

  it('puts parents before children when start times tie (millisecond clocks), ending children first', () => {
    // As exported: children first, every span started and ended in the same millisecond.
    const tied = [
      span('t', 't3', 't2', 'grandchild', 1, 5, 9),
      span('t', 't2', 't1', 'child', 1, 5, 9),
      span('t', 't1', '', 'POST /mcp', 2, 5, 9),
    ];
    const plan = planOf(tied, []);
    expect(plan.spans.map((s) => s.name)).toEqual(['POST /mcp', 'child', 'grandchild']);
    expect(plan.spans.map((s) => s.parent)).toEqual([-1, 0, 1]);
    expect(plan.endOrder).toEqual([2, 1, 0]);
  });

  it('refuses a sample without a whole request', () => {
    expect(() => planOf(SPANS.slice(0, 3), [])).toThrow(/no whole request/);
  });
});

function result(node: string, rounds: number[]): FloorOnNode {
  return { node, rounds, spans: 5, spanNames: ['POST /mcp'], logs: 1 };
}

const off = (...xs: number[]) => xs.map((cpuUs) => ({ cpuUs, rps: 3_000 }));

describe('floorSection', () => {
  // Off rounds of 270 µs: a 10 % cost allows 270 / 9 = 30 µs. A floor of 45 µs leaves 270 / 315 = 0.86×.
  it('pairs each block with its round and states the best throughput the floor leaves', () => {
    const text = floorSection(
      { results: [result('v20', [45, 30, 90])], skipped: [], exported: { spans: 5, logs: 1 } },
      off(270, 180, 540),
    );
    expect(text).toContain(`270, 180, 540 µs)`);
    expect(text).toContain('allows F ≤ X / 9');
    // Per round 270/315, 180/210, 540/630: 0.86 each, whatever the machine's speed in that round.
    expect(text).toContain('| v20 | 45.0 (45.0, 30.0, 90.0) | 30.0 | 0.86× (0.86, 0.86, 0.86), cost 14 % |');
    expect(text).toContain('On every Node release measured the SDK alone costs more than the goal allows');
    expect(text).toContain('5.00 spans and 1.00 log records per replayed request');
  });

  it('shows how busy the shared CPU was (req/s × X), the condition of the arithmetic', () => {
    const text = floorSection({ results: [result('v20', [45])], skipped: [], exported: null }, off(300));
    // 3,000 req/s × 300 µs = 90 % of the CPU, when pinned (as on the benchmark machines).
    if (text.includes('share one CPU')) expect(text).toContain('(req/s × X: 90 %)');
    else expect(text).toContain('only estimates');
  });

  it('says where the SDK fits within the goal, qualified for another Node than the one X was measured on', () => {
    const text = floorSection(
      {
        results: [result(process.version, [45]), result('v99.0.0', [25])],
        skipped: ['x: skipped'],
        exported: null,
      },
      off(270),
    );
    expect(text).toContain(
      'The SDK alone fits within the goal on v99.0.0 (against the telemetry-off sidecar measured on',
    );
    expect(text).not.toContain('On every Node release');
    expect(text).toContain('| x: skipped | — | — | — |');
    const here = floorSection(
      { results: [result(process.version, [25])], skipped: [], exported: null },
      off(270),
    );
    expect(here).toContain(`fits within the goal on ${process.version}; the rest`);
  });

  it('claims nothing when nothing was measured', () => {
    const text = floorSection({ results: [], skipped: ['no sample'], exported: null }, off(270));
    expect(text).toContain('Not measured.');
    expect(text).not.toContain('costs more than the goal allows');
  });
});
