import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import * as sc from '../../../src/telemetry/semconv.js';

describe('semconv metric names', () => {
  it('match @opentelemetry/semantic-conventions', () => {
    expect(sc.METRIC_HTTP_SERVER_REQUEST_DURATION).toBe(stable.METRIC_HTTP_SERVER_REQUEST_DURATION);
    expect(sc.METRIC_MCP_SERVER_OPERATION_DURATION).toBe(incubating.METRIC_MCP_SERVER_OPERATION_DURATION);
  });
});

describe('semconv copies', () => {
  it('match @opentelemetry/semantic-conventions 1.45 (stable and incubating)', () => {
    expect({
      method: sc.ATTR_HTTP_REQUEST_METHOD,
      methodOriginal: sc.ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
      otherMethod: sc.HTTP_METHOD_OTHER,
      status: sc.ATTR_HTTP_RESPONSE_STATUS_CODE,
      route: sc.ATTR_HTTP_ROUTE,
      path: sc.ATTR_URL_PATH,
      server: sc.ATTR_SERVER_ADDRESS,
      client: sc.ATTR_CLIENT_ADDRESS,
      proto: sc.ATTR_NETWORK_PROTOCOL_VERSION,
      transport: sc.ATTR_NETWORK_TRANSPORT,
      error: sc.ATTR_ERROR_TYPE,
      service: sc.ATTR_SERVICE_NAME,
    }).toEqual({
      method: stable.ATTR_HTTP_REQUEST_METHOD,
      methodOriginal: stable.ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
      otherMethod: stable.HTTP_REQUEST_METHOD_VALUE_OTHER,
      status: stable.ATTR_HTTP_RESPONSE_STATUS_CODE,
      route: stable.ATTR_HTTP_ROUTE,
      path: stable.ATTR_URL_PATH,
      server: stable.ATTR_SERVER_ADDRESS,
      client: stable.ATTR_CLIENT_ADDRESS,
      proto: stable.ATTR_NETWORK_PROTOCOL_VERSION,
      transport: stable.ATTR_NETWORK_TRANSPORT,
      error: stable.ATTR_ERROR_TYPE,
      service: stable.ATTR_SERVICE_NAME,
    });
    expect([
      sc.ATTR_MCP_METHOD_NAME,
      sc.ATTR_MCP_SESSION_ID,
      sc.ATTR_MCP_PROTOCOL_VERSION,
      sc.ATTR_MCP_RESOURCE_URI,
      sc.ATTR_GEN_AI_TOOL_NAME,
      sc.ATTR_GEN_AI_PROMPT_NAME,
      sc.ATTR_GEN_AI_OPERATION_NAME,
      sc.ATTR_JSONRPC_REQUEST_ID,
      sc.ATTR_JSONRPC_PROTOCOL_VERSION,
      sc.ATTR_RPC_RESPONSE_STATUS_CODE,
      sc.ATTR_RPC_SYSTEM_NAME,
      sc.RPC_SYSTEM_JSONRPC,
      sc.ATTR_K8S_POD_NAME,
      sc.ATTR_K8S_POD_UID,
      sc.ATTR_K8S_NAMESPACE_NAME,
      sc.ATTR_K8S_NODE_NAME,
      sc.ATTR_K8S_CONTAINER_NAME,
    ]).toEqual([
      incubating.ATTR_MCP_METHOD_NAME,
      incubating.ATTR_MCP_SESSION_ID,
      incubating.ATTR_MCP_PROTOCOL_VERSION,
      incubating.ATTR_MCP_RESOURCE_URI,
      incubating.ATTR_GEN_AI_TOOL_NAME,
      incubating.ATTR_GEN_AI_PROMPT_NAME,
      incubating.ATTR_GEN_AI_OPERATION_NAME,
      incubating.ATTR_JSONRPC_REQUEST_ID,
      incubating.ATTR_JSONRPC_PROTOCOL_VERSION,
      incubating.ATTR_RPC_RESPONSE_STATUS_CODE,
      incubating.ATTR_RPC_SYSTEM_NAME,
      incubating.RPC_SYSTEM_NAME_VALUE_JSONRPC,
      incubating.ATTR_K8S_POD_NAME,
      incubating.ATTR_K8S_POD_UID,
      incubating.ATTR_K8S_NAMESPACE_NAME,
      incubating.ATTR_K8S_NODE_NAME,
      incubating.ATTR_K8S_CONTAINER_NAME,
    ]);
  });

  it('names MCP spans {method} {target}, never with a resource URI', () => {
    expect(sc.mcpSpanName('tools/call', 'read_customer')).toBe('tools/call read_customer');
    expect(sc.mcpSpanName('resources/read')).toBe('resources/read');
    expect(sc.mcpSpanName('initialize', null)).toBe('initialize');
    // The caller picks the tool's name; no SDK limit applies to a span's name.
    expect(sc.mcpSpanName('tools/call', 'x'.repeat(100_000))).toHaveLength(sc.SPAN_NAME_MAX_CHARS + 1);
  });
});
