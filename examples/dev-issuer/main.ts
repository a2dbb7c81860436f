/**
 * Runnable entry for the DEVELOPMENT-ONLY token issuer:
 * `node --import tsx examples/dev-issuer/main.ts --port 9000 --audience http://127.0.0.1:8080/mcp [--alg RS256]
 * [--roles-claim realm_access.roles]`.
 * Get a token with
 * `curl -s -XPOST localhost:9000/token -d '{"sub":"u-1","roles":["analyst"],"tenant":"acme"}'`.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { startDevIssuer } from './issuer.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    host: { type: 'string', default: '127.0.0.1' },
    audience: { type: 'string', default: 'http://127.0.0.1:8080/mcp' },
    alg: { type: 'string', default: 'ES256' },
    'roles-claim': { type: 'string', default: 'roles' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`--port: expected an integer 0..65535, got ${values.port}\n`);
  process.exit(1);
}
if (values.alg !== 'ES256' && values.alg !== 'RS256') {
  process.stderr.write(`--alg: expected ES256 or RS256, got ${values.alg}\n`);
  process.exit(1);
}

const rolesClaim = values['roles-claim'];
if (!/^[^.]+(\.[^.]+)*$/.test(rolesClaim)) {
  process.stderr.write(
    `--roles-claim: expected a dotted claim path such as realm_access.roles, got ${rolesClaim}\n`,
  );
  process.exit(1);
}

const issuer = await startDevIssuer({
  port,
  host: values.host,
  audience: values.audience,
  alg: values.alg,
  rolesClaim,
});
process.stdout.write(
  [
    `dev issuer (DEVELOPMENT ONLY: POST /token mints any token without authentication) at ${issuer.issuer}`,
    `  jwks      ${issuer.jwksUri}`,
    `  metadata  ${issuer.issuer}/.well-known/oauth-authorization-server`,
    `  token     POST ${issuer.tokenEndpoint}  {"sub","roles","tenant","scope","clearance"}`,
    `  audience  ${issuer.audience}`,
    `  roles at  ${rolesClaim} (authn.jwt.claims.roles)`,
    '',
  ].join('\n'),
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    issuer.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
