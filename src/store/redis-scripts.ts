/**
 * The Lua scripts behind the rate limiter, the abuse windows and blocks, and how they are called: each is
 * loaded with SCRIPT LOAD when the connection becomes ready (on every master of a Cluster) and then run
 * by EVALSHA, so a request sends only the script's hash. If Redis has lost the script (restart, failover,
 * `SCRIPT FLUSH`), EVALSHA answers NOSCRIPT and the call is repeated once as EVAL, which runs the script
 * and caches it again: no error reaches the caller. All keys of one call share the `{authz}` hash tag.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { bumpVersionLua } from './redis-keys.js';

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  /** SHA-1 of the source, as SCRIPT LOAD returns it. */
  readonly sha: string;
}

function script(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

/** The subset of an ioredis client (standalone or Cluster) the script runner needs. */
export interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** EVALSHA; on NOSCRIPT, EVAL once (which also caches the script again). */
export async function runScript(
  c: ScriptClient,
  s: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await c.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return c.eval(s.source, keys.length, ...keys, ...args);
  }
}

export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Token bucket, the same arithmetic as `token-bucket.ts`. KEYS[1] = bucket hash {t = tokens, ts = last
 * refill ms}; ARGV = capacity, refill per second, cost, now (ms). The hash expires when the bucket would be
 * full again (a full bucket and a missing one are the same). A negative cost gives tokens back, up to the
 * capacity. Returns {allowed 0/1, remaining, retry ms, reset ms}.
 */
export const TOKEN_BUCKET_SCRIPT = script(
  'tokenBucket',
  `local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local eps = 1e-9
local h = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(h[1])
local ts = tonumber(h[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
elseif now > ts then
  local refilled = tokens + (now - ts) * rate / 1000
  if refilled >= cap then
    tokens = cap
    ts = now
  else
    ts = ts + (refilled - tokens) * 1000 / rate
    tokens = refilled
  end
end
if tokens > cap then tokens = cap end
local allowed = 0
local retry = 0
if tokens + eps >= cost then
  tokens = tokens - cost
  if tokens < 0 then tokens = 0 end
  if tokens > cap then tokens = cap end
  allowed = 1
else
  retry = math.max(1, math.ceil((cost - tokens) * 1000 / rate - 1e-6))
end
local reset = 0
if cap - tokens > eps then reset = math.max(1, math.ceil((cap - tokens) * 1000 / rate - 1e-6)) end
-- The expiry is never shortened: a call under a faster-refilling spec must not end the state a slower
-- spec still needs (nor drop it by finding the bucket full by its own measure).
local ttl = redis.call('PTTL', KEYS[1])
-- At most ~31 years: a longer time prints as 1e+15, which PEXPIRE refuses (and HSET would stay).
local keep = math.min(reset, 1e12)
if reset > 0 or ttl > 0 then
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
  if ttl < keep then redis.call('PEXPIRE', KEYS[1], keep) end
else
  redis.call('DEL', KEYS[1])
end
return {allowed, math.floor(tokens + eps), retry, reset}`,
);

/**
 * Sliding windows, several per call. KEYS = per hit: window zset, window counts hash, trip marker. ARGV[1] =
 * now (ms); per hit 5 more: window ms, count, threshold, member id, hit time (ms). The zset holds the ids
 * scored by time, the hash each id's count and, under `:sum` (no id holds a `:`), their sum, so a call costs
 * O(log n) however long the window: a window holds about one member per flush per replica, 86,400 a day, and
 * summing the whole zset on every call ran a 1-day window's flush past the command timeout. Members at or
 * before now − window are dropped, their counts taken off the sum (each once, amortised). A member with the
 * hit's id is replaced, not added to: a count sent again after a write whose answer was lost (a timeout) is
 * not counted twice, even when later counts have been merged into it. A hash without its zset (evicted) is
 * dropped, so the sum restarts rather than drifts. The window trips
 * when the sum first exceeds the threshold; the marker (`<ms until which no new trip>:<id of the tripping
 * hit>`) makes it one trip per window, except that the tripping hit sent again trips again (its answer was
 * lost, so nobody acted on the trip). Returns {count, tripped 0/1} per hit, flattened.
 */
export const WINDOW_SCRIPT = script(
  'slidingWindows',
  `local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 3 do
  local zkey = KEYS[3 * i - 2]
  local ckey = KEYS[3 * i - 1]
  local tkey = KEYS[3 * i]
  local a = 2 + (i - 1) * 5
  local window = tonumber(ARGV[a])
  local n = tonumber(ARGV[a + 1])
  local threshold = tonumber(ARGV[a + 2])
  local id = ARGV[a + 3]
  local suffix = ':' .. id
  local sum = 0
  if redis.call('EXISTS', zkey) == 1 then
    sum = tonumber(redis.call('HGET', ckey, ':sum')) or 0
    local gone = redis.call('ZRANGEBYSCORE', zkey, '-inf', now - window)
    for j = 1, #gone, 1000 do
      local last = math.min(j + 999, #gone)
      for _, c in ipairs(redis.call('HMGET', ckey, unpack(gone, j, last))) do sum = sum - (tonumber(c) or 0) end
      redis.call('HDEL', ckey, unpack(gone, j, last))
    end
    if #gone > 0 then redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now - window) end
    sum = sum - (tonumber(redis.call('HGET', ckey, id)) or 0)
  else
    redis.call('DEL', ckey)
  end
  sum = sum + n
  redis.call('ZADD', zkey, ARGV[a + 4], id)
  redis.call('HSET', ckey, id, ARGV[a + 1], ':sum', string.format('%d', sum))
  redis.call('PEXPIRE', zkey, window)
  redis.call('PEXPIRE', ckey, window)
  local tripped = 0
  if sum > threshold then
    local marker = redis.call('GET', tkey)
    local quiet = nil
    if marker then quiet = tonumber(string.match(marker, '^(%d+)')) end
    if quiet == nil or quiet <= now then
      redis.call('SET', tkey, string.format('%d', now + window) .. suffix, 'PX', window)
      tripped = 1
    elseif string.sub(marker, -#suffix) == suffix then
      tripped = 1
    end
  end
  out[2 * i - 1] = sum
  out[2 * i] = tripped
end
return out`,
);

/**
 * Put a block. KEYS = blocks hash, until zset, version. ARGV = field, entry JSON, until ms, extendOnly
 * ('1'/'0'), now ms, version base (`versionBase`). Returns 1 if written (and the version bumped), 0 if a
 * longer live block was kept.
 */
export const PUT_BLOCK_SCRIPT = script(
  'putBlock',
  `if ARGV[4] == '1' then
  local cur = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
  if cur and cur > tonumber(ARGV[5]) and cur >= tonumber(ARGV[3]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
${bumpVersionLua('KEYS[3]', 'ARGV[6]')}
return 1`,
);

/** Lift a block. KEYS as PUT_BLOCK; ARGV = field, now ms, version base. Returns 1 if a live block was lifted. */
export const LIFT_BLOCK_SCRIPT = script(
  'liftBlock',
  `local cur = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]))
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if cur and cur > tonumber(ARGV[2]) then
  ${bumpVersionLua('KEYS[3]', 'ARGV[3]')}
  return 1
end
return 0`,
);

/**
 * The blocks. KEYS as PUT_BLOCK; ARGV = prune-before ms (now less `PRUNE_MARGIN_MS`). Prunes the blocks
 * that ended before it (in chunks, below Lua's stack limit), then returns {version, {entry JSON…}}: the
 * caller skips those that ended since.
 */
export const LIST_BLOCKS_SCRIPT = script(
  'listBlocks',
  `local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #lapsed, 1000 do
  redis.call('HDEL', KEYS[1], unpack(lapsed, i, math.min(i + 999, #lapsed)))
end
if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1]) end
return {redis.call('GET', KEYS[3]) or '0', redis.call('HVALS', KEYS[1])}`,
);

export const SCRIPTS: readonly LuaScript[] = [
  TOKEN_BUCKET_SCRIPT,
  WINDOW_SCRIPT,
  PUT_BLOCK_SCRIPT,
  LIFT_BLOCK_SCRIPT,
  LIST_BLOCKS_SCRIPT,
];
