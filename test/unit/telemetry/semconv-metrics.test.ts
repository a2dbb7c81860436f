import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { SemconvMetrics } from '../../../src/telemetry/semconv-metrics.js';

/** A meter that records every histogram sample with its attributes. */
function recordingMeter(): { meter: Meter; samples: Map<string, [number, Attributes | undefined][]> } {
  const samples = new Map<string, [number, Attributes | undefined][]>();
  const meter = {
    createHistogram(name: string): Histogram {
      samples.set(name, []);
      return { record: (v: number, a?: Attributes) => void samples.get(name)?.push([v, a]) };
    },
  } as unknown as Meter;
  return { meter, samples };
}

describe('SemconvMetrics', () => {
  it('follows the HTTP conventions: method, scheme, route, status; error.type for 5xx and a reply never sent', () => {
    const { meter, samples } = recordingMeter();
    const m = new SemconvMetrics(meter, new Map([['mcp', '/mcp']]));
    m.request('mcp', 'POST', 200, 0.01);
    m.request('mcp', 'BREW', 502, 0.02);
    m.request('not_found', 'GET', 404, 0.001);
    m.request('mcp', 'GET', 499, 3);
    // Pipelined behind a reply after which the sidecar closed the connection: never sent either.
    m.request('mcp', 'POST', 444, 0.3);
    expect(samples.get('http.server.request.duration')).toEqual([
      [
        0.01,
        {
          'http.request.method': 'POST',
          'url.scheme': 'http',
          'http.route': '/mcp',
          'http.response.status_code': 200,
        },
      ],
      [
        0.02,
        {
          'http.request.method': '_OTHER',
          'url.scheme': 'http',
          'http.route': '/mcp',
          'http.response.status_code': 502,
          'error.type': '502',
        },
      ],
      [0.001, { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 404 }],
      [
        3,
        {
          'http.request.method': 'GET',
          'url.scheme': 'http',
          'http.route': '/mcp',
          'error.type': 'client_closed',
        },
      ],
      [
        0.3,
        {
          'http.request.method': 'POST',
          'url.scheme': 'http',
          'http.route': '/mcp',
          'error.type': 'sidecar_closed',
        },
      ],
    ]);
  });

  it('names the listener’s scheme: https behind server.tls', () => {
    const { meter, samples } = recordingMeter();
    new SemconvMetrics(meter, new Map(), 'https').request('mcp', 'POST', 200, 0.01);
    expect(samples.get('http.server.request.duration')?.[0]?.[1]).toMatchObject({ 'url.scheme': 'https' });
  });

  it('records MCP operations with their method, tool and error type', () => {
    const { meter, samples } = recordingMeter();
    const m = new SemconvMetrics(meter, new Map());
    m.operation('tools/call', 'echo', null, 0.005);
    m.operation('ping', null, '-32029', 0.001);
    expect(samples.get('mcp.server.operation.duration')).toEqual([
      [0.005, { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo' }],
      [0.001, { 'mcp.method.name': 'ping', 'error.type': '-32029' }],
    ]);
  });
});
