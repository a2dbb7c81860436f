/**
 * The one mapping from a SidecarError to a JSON-RPC error object. The message is safe for the caller;
 * `data` carries the stable `code` and any details the error chose to share (reasons, decision id,
 * retry time) — never the cause.
 *
 * @module
 */
import type { JsonRpcId } from '../mcp/action.js';
import { codeInfo } from './codes.js';
import type { SidecarError } from './errors.js';

export function rpcErrorBody(err: SidecarError, id: JsonRpcId): Record<string, unknown> {
  const info = codeInfo(err.code);
  return {
    jsonrpc: '2.0',
    id,
    error: { code: info.rpc, message: err.message, data: { code: err.code, ...err.data } },
  };
}
