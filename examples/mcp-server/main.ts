/**
 * Runnable entry for the example MCP server:
 * `node --import tsx examples/mcp-server/main.ts --port 8081 [--host 127.0.0.1] [--stateless] [--json-response]`.
 * Prints the endpoints and stops cleanly on SIGINT/SIGTERM.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { startExampleServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8081' },
    host: { type: 'string', default: '127.0.0.1' },
    stateless: { type: 'boolean', default: false },
    'json-response': { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`--port: expected an integer 0..65535, got ${values.port}\n`);
  process.exit(1);
}

const server = await startExampleServer({
  port,
  host: values.host,
  stateless: values.stateless,
  jsonResponse: values['json-response'],
});
process.stdout.write(
  [
    `example MCP server listening on ${server.url}${values.stateless ? ' (stateless)' : ''}`,
    `  Streamable HTTP  ${server.mcpUrl}`,
    `  legacy SSE       ${server.sseUrl}  (POST ${server.url}/messages?sessionId=…)`,
    `  call log         GET|DELETE ${server.url}/_calls`,
    '',
  ].join('\n'),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
