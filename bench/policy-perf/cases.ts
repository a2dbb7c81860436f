/** Inputs shaped like the sidecar's (src/policy/input.ts) for the policy micro harnesses. */
const ctx = {
  time: '2026-11-23T10:00:00Z',
  hour: 10,
  minute: 0,
  weekday: 1,
  date: '2026-11-23',
  timezone: 'UTC',
  client_ip: '10.0.0.7',
  session_id: 's-1',
  request_id: 'r-1',
  environment: 'prod',
  protocol_version: null,
  transport: 'streamable-http',
};
const subj = (roles: string[]) => ({
  id: 'u-42',
  tenant: 'acme',
  roles,
  scopes: ['mcp:tools'],
  clearance: null,
  auth_method: 'jwt',
  key_id: null,
  claims: { sub: 'u-42', iss: 'https://issuer.example', aud: 'https://mcp.example/mcp' },
});
const ann = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
  seen: true,
};
const call = (roles: string[], tool: string, args: unknown) => ({
  subject: subj(roles),
  action: { method: 'tools/call', tool, arguments: args },
  resource: { kind: 'tool', name: tool, annotations: ann },
  context: ctx,
});
export function sampleCases(): [string, unknown, 'd' | 'v'][] {
  return [
    ['allow analyst read_customer', call(['analyst'], 'read_customer', { tenant: 'acme', id: 'c-1' }), 'd'],
    ['deny user delete_customer', call(['user'], 'delete_customer', { tenant: 'acme', id: 'c-1' }), 'd'],
    [
      'allow premium query',
      call(['premium'], 'query_customer_data', { tenant: 'acme', query: 'q', limit: 10 }),
      'd',
    ],
    [
      'deny guest export',
      call(['guest'], 'export_customers', { tenant: 'globex', limit: 5000, format: 'csv' }),
      'd',
    ],
    ['allow admin export', call(['admin'], 'export_customers', { tenant: 'globex', limit: 5000 }), 'd'],
    [
      'allow ping',
      {
        subject: subj(['user']),
        action: { method: 'ping' },
        resource: { kind: 'method', name: 'ping', annotations: {} },
        context: ctx,
      },
      'd',
    ],
    [
      'visible user tool',
      {
        subject: subj(['user']),
        action: { method: 'tools/list' },
        resource: { kind: 'tool', name: 'read_customer', annotations: ann },
        context: ctx,
      },
      'v',
    ],
  ];
}
