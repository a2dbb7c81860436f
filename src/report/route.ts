/**
 * The admin endpoint behind the report: `GET …?since=24h&format=json|text` (defaults `24h`, `json`).
 * 400 for a bad query, 503 when the store cannot be read; never throws. Mount it behind authentication:
 * the report names subjects and client addresses.
 *
 * @module
 */
import type { Store } from '../store/store.js';
import { buildReport } from './build.js';
import { formatReport } from './format.js';
import { DEFAULT_SINCE, parseSince } from './since.js';

export interface RouteResponse {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

export function reportRoute(
  store: Store,
  now: () => number = Date.now,
): (url: URL) => Promise<RouteResponse> {
  return async (url) => {
    const format = url.searchParams.get('format') ?? 'json';
    if (format !== 'json' && format !== 'text')
      return error(400, 'bad_request', 'format must be json or text');
    const nowMs = now();
    let sinceMs: number;
    try {
      sinceMs = parseSince(url.searchParams.get('since') ?? DEFAULT_SINCE, nowMs);
    } catch (err) {
      return error(400, 'bad_request', (err as Error).message);
    }
    try {
      const report = await buildReport(store, sinceMs, nowMs);
      return format === 'json'
        ? { status: 200, type: JSON_TYPE, body: `${JSON.stringify(report, null, 2)}\n` }
        : { status: 200, type: TEXT_TYPE, body: formatReport(report) };
    } catch {
      return error(503, 'store_unavailable', 'the security report cannot be read from the store');
    }
  };
}

function error(status: number, code: string, message: string): RouteResponse {
  return { status, type: JSON_TYPE, body: `${JSON.stringify({ error: code, message })}\n` };
}
