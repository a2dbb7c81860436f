/**
 * For `tokens revoke` with token introspection configured: asks the introspection endpoint whether the
 * argument is a live token, and for its `jti` and `exp`. An opaque access token is checked by the `jti` its
 * introspection answer names, never by the token itself, so revoking the token string as an id would print
 * and store the credential and revoke nothing. The token is sent to the endpoint only, never shown.
 *
 * @module
 */
import { introspect } from '../authn/introspection-request.js';
import type { Config } from '../config/schema.js';
import { openSecret, secretIssues } from '../config/secrets.js';
import { AuthnError } from '../errors/errors.js';

/** What revoking a token looked up this way needs: its id, and how long to keep the revocation. */
export interface LookedUp {
  readonly jti: string;
  readonly exp?: number;
}

const ASK_HINT = 'give --jti to revoke the argument as a token id without asking';

/**
 * The `jti` and `exp` of `token` when the endpoint calls it active, `'inactive'` when it does not (a token
 * id, or a token no longer alive: revoking it by id is then all there is to do). Throws when the endpoint
 * cannot be asked, or calls the token active without naming a `jti` (then only the authorization server can
 * revoke it).
 */
export async function lookUpToken(token: string, config: Config): Promise<LookedUp | 'inactive'> {
  const intro = config.authn.introspection;
  if (!intro) throw new Error('authn.introspection is not configured');
  const unreadable = secretIssues(config, process.env, ['introspectionClientSecret']);
  if (unreadable.length)
    throw new Error(`${unreadable.join('; ')} (to ask the introspection endpoint; ${ASK_HINT})`);
  const secret = openSecret(config, 'introspectionClientSecret');
  try {
    const answer = await introspect(token, {
      endpoint: intro.endpoint,
      clientId: intro.clientId,
      clientSecret: () => secret.get(),
      timeoutMs: intro.timeoutMs,
    });
    if (!answer.active) return 'inactive';
    const { jti, exp } = answer as { jti?: unknown; exp?: number };
    if (typeof jti !== 'string' || jti === '') {
      throw new Error(
        'the introspection endpoint calls the token active but names no jti: the sidecar cannot revoke it by id; revoke it at the authorization server (the token is not shown)',
      );
    }
    return exp === undefined ? { jti } : { jti, exp };
  } catch (err) {
    if (!(err instanceof AuthnError)) throw err;
    // Its message names the cause (status, timeout), never the token.
    throw new Error(
      `could not ask the introspection endpoint whether the argument is a token: ${err.message}; ${ASK_HINT}`,
    );
  } finally {
    secret.close();
  }
}
