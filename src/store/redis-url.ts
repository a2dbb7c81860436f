/**
 * Parses the `store.redisUrl` forms into connection targets for ioredis:
 * `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS),
 * `redis+sentinel://[user:pass@]host:port,host2:port/mastername[/db]` and
 * `redis+cluster://[user:pass@]host:port,host2:port`. Every form takes `?tls=true` or `?tls=false` (for
 * `rediss://`, only true). `redactRedisUrl` gives a form safe to log (password replaced).
 *
 * @module
 */
import { ConfigError } from '../errors/errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

interface Common {
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

export type RedisTarget =
  | (Common & { readonly kind: 'standalone'; readonly node: HostPort; readonly db: number })
  | (Common & {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly masterName: string;
      readonly db: number;
    })
  | (Common & { readonly kind: 'cluster'; readonly nodes: readonly HostPort[] });

// The userinfo runs to the LAST `@`: a password with an unescaped `@` or `/` must not spill into the host
// (where it would be echoed in errors and logs).
const URL_RE =
  /^(redis|rediss|redis\+sentinel|redis\+cluster):\/\/(?:(.*)@)?([^@/?#]*)(\/[^?#@]*)?(?:\?([^#@]*))?$/;

/**
 * Throws a `ConfigError` (one issue, `store.redisUrl: …`, printed under "invalid configuration:" like every
 * other configuration problem) whose message never contains the password.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = URL_RE.exec(url);
  if (!m) {
    // A line break from a secret file (`echo` adds one) fails the parse: say so, and never echo the text
    // around it, where `.`-based redaction would not reach.
    if (/\p{Cc}/u.test(url)) {
      throw invalid(
        'contains a line break or another control character (a secret written with `echo` ends in a newline?)',
      );
    }
    throw invalid(`cannot parse ${redactRedisUrl(url)}`);
  }
  const [, scheme, userinfo, hostList = '', rawPath = '', query = ''] = m;
  const params = new URLSearchParams(query);
  // A parameter nothing reads (`?password=…`, `?db=2`) would be ignored without a word: the store would
  // connect without the password, or to database 0.
  for (const name of new Set(params.keys())) {
    if (name !== 'tls') {
      throw invalid(
        `the query parameter ${JSON.stringify(name.slice(0, 40))} is not read (the only one read is tls, as tls=true or tls=false): give a password in the userinfo (redis://:password@host) or store.passwordFile, a database as the path (/2)`,
      );
    }
  }
  const auth = parseUserinfo(userinfo);
  const segments = rawPath
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decoded(s, 'the path'));
  const defaultPort = scheme === 'redis+sentinel' ? 26_379 : 6_379;
  const nodes = hostList
    .split(',')
    .filter((h) => h.length > 0)
    .map((h) => parseHostPort(h, defaultPort));
  if (nodes.length === 0) throw invalid('no host');
  const tls = tlsParam(params.getAll('tls'), scheme === 'rediss') || scheme === 'rediss';
  switch (scheme) {
    case 'redis+sentinel': {
      const [masterName, db] = segments;
      if (!masterName) throw invalid('redis+sentinel:// needs /<mastername>');
      return { kind: 'sentinel', sentinels: nodes, masterName, db: parseDb(db), tls, ...auth };
    }
    case 'redis+cluster':
      if (segments.length > 0) throw invalid('redis+cluster:// takes no path (clusters have no db)');
      return { kind: 'cluster', nodes, tls, ...auth };
    default:
      if (nodes.length > 1) throw invalid('several hosts need redis+sentinel:// or redis+cluster://');
      return { kind: 'standalone', node: nodes[0] as HostPort, db: parseDb(segments[0]), tls, ...auth };
  }
}

/**
 * `?tls=`: `true` or `false` (any case), once. Anything else (`1`, `yes`) was read as false, so the password
 * went in plain text with the URL meaning TLS; refused, naming only the parameter.
 */
function tlsParam(values: readonly string[], rediss: boolean): boolean {
  if (values.length === 0) return false;
  const v = values.length === 1 ? values[0]?.toLowerCase() : undefined;
  if (v !== 'true' && v !== 'false') {
    throw invalid('tls takes true or false, once (or use rediss://)');
  }
  if (rediss && v === 'false') throw invalid('rediss:// always uses TLS; tls=false contradicts it');
  return v === 'true';
}

/**
 * The URL with its password replaced by `***`, and the value of every query parameter but `tls` too: the
 * parser reads only `tls`, but a client library reads `?password=` there, and an operator may put one in.
 */
export function redactRedisUrl(url: string): string {
  return url
    .replace(/^([a-z+]+:\/\/)([\s\S]*)@/i, (_all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon === -1 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    .replace(/^([a-z+]+:\/\/[^?#\s]*\?)([^#\s]*)/i, (_all, head: string, query: string) => {
      const masked = query.split('&').map((param) => {
        const eq = param.indexOf('=');
        return eq === -1 || param.slice(0, eq) === 'tls' ? param : `${param.slice(0, eq)}=***`;
      });
      return `${head}${masked.join('&')}`;
    });
}

/** `text` percent-decoded; a stray `%` is an error naming `what`, never showing the text (a password). */
function decoded(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(`${what} is not percent-encoded (write a % in it as %25)`);
  }
}

function parseUserinfo(userinfo: string | undefined): { username?: string; password?: string } {
  if (!userinfo) return {};
  const colon = userinfo.indexOf(':');
  if (colon === -1) return { username: decoded(userinfo, 'the user') };
  const username = decoded(userinfo.slice(0, colon), 'the user');
  const password = decoded(userinfo.slice(colon + 1), 'the password');
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

function parseHostPort(text: string, defaultPort: number): HostPort {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  if (!m?.[1]) throw invalid(`bad host "${text}"`);
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalid(`bad port in "${text}"`);
  return { host, port };
}

function parseDb(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text)) throw invalid(`bad database number "${text}"`);
  return Number(text);
}

/** A problem with `store.redisUrl`, as the configuration error it is. */
function invalid(detail: string): ConfigError {
  return new ConfigError([`store.redisUrl: ${detail}`]);
}
