/**
 * `npm run demo`: the example MCP server, a local development token issuer and the sidecar on the
 * in-memory store, all on localhost. Prints tokens for three roles with example calls, makes one allowed
 * and one denied call, and keeps running until Ctrl-C (`--once` exits after the two calls).
 *
 * @module
 */
import { createSidecar } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/telemetry/logger.js';
import { connectStreamable } from '../test/helpers/mcp-client.js';
import { DEMO_USAGE, DEMO_USAGE_LINE, parseDemoArgs } from './demo-args.js';
import { startDevIssuer } from './dev-issuer/issuer.js';
import { startExampleServer } from './mcp-server/server.js';

const args = parseDemoArgs(process.argv.slice(2), process.env);
if (args.kind === 'help') {
  process.stdout.write(DEMO_USAGE);
  process.exit(0);
}
if (args.kind === 'error') {
  process.stderr.write(`mcp-authz demo: ${args.message}\n${DEMO_USAGE_LINE}\n`);
  process.exit(2);
}
const values = args.options;

// Stateless, so that the printed curl line works on its own (a stateful server wants an initialize first).
const upstream = await startExampleServer({ port: 0, stateless: true });
const port = values.port;
// The resource identifier must be known before the sidecar listens; with --port 0 take a free port first.
const publicPort = port === 0 ? await freePort() : port;
const resource = `http://127.0.0.1:${publicPort}/mcp`;
const issuer = await startDevIssuer({ audience: resource });
const config = parseConfig({
  server: { host: '127.0.0.1', port: publicPort },
  admin: { host: '127.0.0.1', port: values.adminPort },
  upstream: { url: `${upstream.url}/mcp` },
  policy: { bundle: 'build/policy/bundle', environment: 'dev' },
  authn: {
    resource,
    jwt: { issuers: [issuer.issuer], jwksUri: issuer.jwksUri },
    resourceMetadata: { authorizationServers: [issuer.issuer], resourceName: 'mcp-authz demo' },
    apiKeys: { enabled: false },
  },
  log: { level: values.logLevel },
});
const sidecar = createSidecar(config, { logger: createLogger(config.log.level) });
try {
  await sidecar.start();
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  if (e.code !== 'EADDRINUSE') throw err;
  process.stderr.write(
    `mcp-authz demo: ${e.message.replace(/^listen /, '')}: another process has the port; pick others with --port and --admin-port (or DEMO_PORT, DEMO_ADMIN_PORT)\n`,
  );
  await Promise.all([issuer.close(), upstream.close()]);
  process.exit(1);
}

const people = [
  { sub: 'gina', roles: ['guest'], tenant: 'acme' },
  { sub: 'ana', roles: ['analyst'], tenant: 'acme' },
  { sub: 'root', roles: ['admin'], tenant: 'acme' },
];
const tokens = new Map<string, string>();
for (const p of people)
  tokens.set(p.roles[0] as string, await issuer.mint({ ...p, scope: 'mcp:tools', expiresIn: '8h' }));

const line = (s = '') => process.stdout.write(`${s}\n`);
line('mcp-authz demo');
line(`  sidecar      ${resource}   (admin: ${sidecar.adminUrl}/readyz)`);
line(`  MCP server   ${upstream.url}/mcp   (only the sidecar talks to it)`);
line(`  dev issuer   ${issuer.issuer}   (JWKS: ${issuer.jwksUri})`);
line();
for (const [role, token] of tokens) line(`  ${role.padEnd(8)} TOKEN=${token}`);
line();
line('Try (with TOKEN set to one of the above):');
line(`  curl -s ${resource} -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`);
line(`    -H 'Accept: application/json, text/event-stream' \\`);
line(
  `    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_customer","arguments":{"tenant":"acme","id":"c-1"}}}'`,
);
line(
  `  npx @modelcontextprotocol/inspector   # transport: Streamable HTTP, URL ${resource}, header Authorization`,
);
line();

const analyst = await connectStreamable(resource, { authorization: `Bearer ${tokens.get('analyst')}` });
const ok = await analyst.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } });
line(`ALLOWED analyst → read_customer: ${JSON.stringify(ok.structuredContent ?? ok.content).slice(0, 120)}`);
const denied = await analyst
  .callTool({ name: 'delete_customer', arguments: { tenant: 'acme', id: 'c-1' } })
  .then(() => 'unexpectedly allowed')
  .catch((err: Error) => err.message);
line(`DENIED  analyst → delete_customer: ${denied}`);
await analyst.close();

const stop = async () => {
  await sidecar.stop();
  await issuer.close();
  await upstream.close();
};
if (values.once) {
  await stop();
} else {
  line();
  line('Running; Ctrl-C to stop.');
  const onSignal = () => void stop().then(() => process.exit(0));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const p = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return p;
}
