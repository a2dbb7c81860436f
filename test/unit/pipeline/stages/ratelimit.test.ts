/**
 * Tests of the rate-limit stage (src/pipeline/stages/ratelimit.ts) on a real limiter: in-process buckets
 * answer in the same tick (no promise), a store that needs a round trip is awaited, an empty bucket
 * denies with 429 data and headers, requests of one body sharing a bucket take their tokens together, and
 * resource reads share their method's bucket whatever the URI.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/load.js';
import { type Action, classify } from '../../../../src/mcp/action.js';
import type { MessageDecision } from '../../../../src/pipeline/context.js';
import { ratelimitStage, specFor, tierSpec } from '../../../../src/pipeline/stages/ratelimit.js';
import { createRateLimiter } from '../../../../src/ratelimit/create-limiter.js';
import { bucketKey, limitedKey } from '../../../../src/ratelimit/keys.js';
import { MemoryStore } from '../../../../src/store/memory-store.js';
import type { Store } from '../../../../src/store/store.js';
import { silentLogger } from '../../../../src/telemetry/logger.js';
import { principal } from '../../../helpers/principal.js';
import { contextFor, fakeRequest, signal } from '../fake-request.js';

const T0 = 1_800_000_000_000;
const CFG = parseConfig({}).ratelimit;

function decided(tools: string[], capacity = 2): MessageDecision[] {
  return allowed(
    tools.map((tool, i) => classify('tools/call', i + 1, { name: tool, arguments: {} })),
    capacity,
  );
}

function allowed(actions: Action[], capacity: number): MessageDecision[] {
  return actions.map((action, i) => ({
    index: i,
    action,
    decision: {
      allow: true,
      reasons: [],
      obligations: { rate_limit: { capacity, refill_per_second: 1 } },
      sensitivity: undefined,
      revision: 'r1',
      evalNs: 1,
    },
    decisionId: `d-${i}`,
  }));
}

function context(tools: string[], capacity?: number) {
  const ctx = contextFor(fakeRequest({}));
  ctx.principal = principal();
  ctx.decisions = decided(tools, capacity);
  return ctx;
}

const stageOn = (store: Store, listed?: (tool: string) => boolean, cfg = CFG) =>
  ratelimitStage(
    createRateLimiter({ store, failureMode: 'local', logger: silentLogger(), now: () => T0 }),
    cfg,
    listed,
  );

describe('ratelimit stage', () => {
  it('answers in the same tick on the memory store, then denies an empty bucket with 429 data', () => {
    const stage = stageOn(new MemoryStore());
    const ctx = context(['echo']);
    const first = stage.run(ctx, signal);
    expect(first).toEqual({ kind: 'continue' });
    expect(ctx.decisions[0]?.rateLimit).toEqual({ limit: 2, remaining: 1, retryAfterMs: 0, allowed: true });
    expect(ctx.responseHeaders).toMatchObject({ 'ratelimit-policy': '"default";q=2;w=2' });
    // Two calls of one body share the bucket: both tokens at once, and the bucket has only one left.
    const both = stage.run(context(['echo', 'echo']), signal);
    expect(both).not.toBeInstanceOf(Promise);
    expect(both).toMatchObject({ kind: 'deny', error: { code: 'ERR_RATELIMIT_EXCEEDED' } });
  });

  it('awaits a store that has no same-tick take, with the same outcome', async () => {
    const inner = new MemoryStore();
    const remote = Object.create(inner) as Store;
    Object.defineProperty(remote, 'takeTokenNow', { value: undefined });
    remote.takeToken = (...args) => inner.takeToken(...args);
    const stage = stageOn(remote);
    const pending = stage.run(context(['echo', 'search_docs']), signal);
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual({ kind: 'continue' });
    const ctx = context(['echo', 'echo']);
    expect(await stage.run(ctx, signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_RATELIMIT_EXCEEDED', data: { retry_after_seconds: 1, limit: 2 } },
    });
    expect(ctx.responseHeaders['retry-after']).toBe('1');
  });

  it('never says to retry in 0 s: a refusal due in under a second says 1', () => {
    const stage = stageOn(new MemoryStore());
    const fast = () => {
      const ctx = context(['echo']);
      ctx.decisions = ctx.decisions.map((d) => ({
        ...d,
        decision: { ...d.decision, obligations: { rate_limit: { capacity: 1, refill_per_second: 10 } } },
      }));
      return ctx;
    };
    expect(stage.run(fast(), signal)).toEqual({ kind: 'continue' });
    // The next token is due in 100 ms: rounded down, the reply would tell the client to retry at once.
    expect(stage.run(fast(), signal)).toMatchObject({
      kind: 'deny',
      error: {
        code: 'ERR_RATELIMIT_EXCEEDED',
        message: 'Too Many Requests: rate limit for echo exceeded; retry in 1 s',
        data: { retry_after_seconds: 1 },
      },
    });
  });

  it("sizes a bucket by the caller's most generous role tier, whatever the roles' order", () => {
    const tiers = {
      basic: { capacity: 5, refillPerSecond: 1 },
      premium: { capacity: 50, refillPerSecond: 10 },
    };
    const cfg = { ...CFG, tiers };
    for (const roles of [
      ['basic', 'premium'],
      ['premium', 'basic'],
    ]) {
      expect(tierSpec(principal({ roles }), cfg)).toEqual(tiers.premium);
    }
    expect(tierSpec(principal({ roles: ['none'] }), cfg)).toEqual(CFG.default);
  });

  it('refuses a batch of more calls to one bucket than it holds, without Retry-After or spending tokens', () => {
    const stage = stageOn(new MemoryStore());
    // search_docs fits its bucket, echo (3 calls, capacity 2) never can: nothing is taken from either.
    const ctx = context(['search_docs', 'echo', 'echo', 'echo']);
    expect(stage.run(ctx, signal)).toMatchObject({
      kind: 'deny',
      error: {
        code: 'ERR_RATELIMIT_BATCH',
        message:
          'Too Many Requests: this batch makes 3 calls to echo, more than its rate limit ever allows at once (2); send at most 2 per batch',
        data: { limit: 2, requested: 3 },
      },
    });
    expect(ctx.responseHeaders['retry-after']).toBeUndefined();
    // Every request of the refused batch is marked refused (audit, metrics), the fitting one too.
    expect(ctx.decisions.map((d) => d.lateRefusal)).toEqual(
      Array(4).fill({
        code: 'ERR_RATELIMIT_BATCH',
        reason: 'the batch makes more calls to echo than its rate limit allows',
      }),
    );
    // Both buckets are still full.
    const after = context(['search_docs', 'echo', 'echo']);
    expect(stage.run(after, signal)).toEqual({ kind: 'continue' });
    expect(after.decisions.map((d) => d.rateLimit?.remaining)).toEqual([1, 0, 0]);
  });

  it('gives back the tokens of a refused batch: its other buckets are charged nothing', async () => {
    for (const sameTick of [true, false]) {
      const inner = new MemoryStore();
      const store = Object.create(inner) as Store;
      // Bound to `inner`: called on the prototype copy, the memory store's methods cannot reach its private
      // buckets, throw, and the limiter falls back to in-process buckets, which the check below never sees.
      if (sameTick) store.takeTokenNow = (...args) => inner.takeTokenNow(...args);
      else Object.defineProperty(store, 'takeTokenNow', { value: undefined });
      store.takeToken = (...args) => inner.takeToken(...args);
      const stage = stageOn(store);
      // Empty echo's bucket (capacity 2), then send a batch whose search_docs call comes first.
      expect(await stage.run(context(['echo', 'echo']), signal)).toEqual({ kind: 'continue' });
      const batch = context(['search_docs', 'search_docs', 'echo']);
      expect(await stage.run(batch, signal)).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_RATELIMIT_EXCEEDED' },
      });
      // None of the batch is forwarded: every request is refused, search_docs's naming the empty bucket; its
      // outcome says what its bucket holds once its tokens went back (both), not what the take left (none).
      expect(
        batch.decisions.map((d) => [d.lateRefusal?.reason, d.rateLimit?.allowed, d.rateLimit?.remaining]),
      ).toEqual([
        ['rate limit exceeded (for echo, in the same batch)', false, 2],
        ['rate limit exceeded (for echo, in the same batch)', false, 2],
        ['rate limit exceeded', false, 0],
      ]);
      // search_docs still has both tokens (a refund the store answered at once or after a round trip).
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(
        await inner.takeToken(
          limitedKey(bucketKey('subject_tool', principal(), 'search_docs'), {
            capacity: 2,
            refillPerSecond: 1,
          }),
          { capacity: 2, refillPerSecond: 1 },
          2,
          T0,
        ),
      ).toMatchObject({ allowed: true, remaining: 0 });
      // The store's own buckets were used (echo's is empty there), not the limiter's in-process fallback.
      const echo = { capacity: 2, refillPerSecond: 1 };
      expect(
        await inner.takeToken(limitedKey(bucketKey('subject_tool', principal(), 'echo'), echo), echo, 1, T0),
      ).toMatchObject({ allowed: false });
    }
  });

  it('gives back the tokens of a body refused after the stage: its outcomes say what the bucket then holds', () => {
    const stage = stageOn(new MemoryStore());
    const ctx = context(['echo', 'echo'], 5);
    expect(stage.run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.decisions.map((d) => d.rateLimit?.remaining)).toEqual([3, 3]);
    expect(ctx.responseHeaders.ratelimit).toMatch(/;r=3;t=[1-9]\d*$/);
    // Never forwarded (refused busy, its client gone, …): the two tokens go back, and the answer of a
    // refusal after the stage says so as the audit records do (full again: nothing to wait for).
    ctx.refundRateLimit?.();
    expect(ctx.decisions.map((d) => d.rateLimit)).toEqual([
      { limit: 5, remaining: 5, retryAfterMs: 0, allowed: true },
      { limit: 5, remaining: 5, retryAfterMs: 0, allowed: true },
    ]);
    expect(ctx.responseHeaders.ratelimit).toBe('"default";r=5;t=0');
  });

  it('keys resource requests by method, not by URI: varying the URI gets no fresh bucket', () => {
    const stage = stageOn(new MemoryStore());
    const read = (uri: string) => {
      const ctx = contextFor(fakeRequest({}));
      ctx.principal = principal();
      ctx.decisions = allowed([classify('resources/read', 1, { uri })], 2);
      return ctx;
    };
    expect(stage.run(read('docs://guide?n=1'), signal)).toEqual({ kind: 'continue' });
    const second = read('docs://guide?n=2');
    expect(stage.run(second, signal)).toEqual({ kind: 'continue' });
    expect(second.decisions[0]?.rateLimit).toMatchObject({ limit: 2, remaining: 0 });
    expect(stage.run(read('docs://other'), signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_RATELIMIT_EXCEEDED' },
    });
    // One body reading two URIs takes both tokens from the one bucket.
    const batch = contextFor(fakeRequest({}));
    batch.principal = principal({ id: 'bob' });
    batch.decisions = allowed(
      [classify('resources/read', 1, { uri: 'a://1' }), classify('resources/read', 2, { uri: 'b://2' })],
      2,
    );
    expect(stage.run(batch, signal)).toEqual({ kind: 'continue' });
    expect(batch.decisions.map((d) => d.rateLimit?.remaining)).toEqual([0, 0]);
  });

  it('gives listed tools a bucket each; unlisted tool names and prompts share their method', () => {
    const stage = stageOn(new MemoryStore(), (tool) => tool === 'echo');
    const call = (params: Record<string, unknown>, method = 'tools/call') => {
      const ctx = contextFor(fakeRequest({}));
      ctx.principal = principal();
      ctx.decisions = allowed([classify(method, 1, params)], 2);
      return ctx;
    };
    // Two invented names (a wildcard grant would allow both) use up one bucket: the third is refused.
    expect(stage.run(call({ name: 'read_x1' }), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(call({ name: 'read_x2' }), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(call({ name: 'read_x3' }), signal)).toMatchObject({ kind: 'deny' });
    // The listed tool has its own, still full.
    expect(stage.run(call({ name: 'echo' }), signal)).toEqual({ kind: 'continue' });
    const prompt = (name: string) => call({ name }, 'prompts/get');
    expect(stage.run(prompt('a'), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(prompt('b'), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(prompt('c'), signal)).toMatchObject({ kind: 'deny' });
  });

  it('puts method names MCP does not define in one shared bucket: inventing names gets no fresh one', () => {
    const stage = stageOn(new MemoryStore());
    const request = (method: string) => {
      const ctx = contextFor(fakeRequest({}));
      ctx.principal = principal();
      ctx.decisions = allowed([classify(method, 1, {})], 2);
      return ctx;
    };
    expect(stage.run(request('notifications/x1'), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(request('notifications/x2'), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(request('notifications/x3'), signal)).toMatchObject({ kind: 'deny' });
    expect(stage.run(request('custom/anything'), signal)).toMatchObject({ kind: 'deny' });
    // An MCP method keeps its own bucket.
    expect(stage.run(request('ping'), signal)).toEqual({ kind: 'continue' });
  });

  it('holds calls sharing a bucket to the strictest of their limits, whatever their order in the batch', () => {
    // Scope `subject`: every call of the caller shares one bucket; the policy limits delete_all to 2.
    const cfg = { ...CFG, scope: 'subject' as const };
    const limits: Record<string, number> = { delete_all: 2, echo: 1000 };
    const ctxFor = (tools: string[]) => {
      const ctx = contextFor(fakeRequest({}));
      ctx.principal = principal();
      ctx.decisions = tools.map((tool, i) => ({
        ...(decided([tool], limits[tool])[0] as MessageDecision),
        index: i,
        decisionId: `d-${i}`,
      }));
      return ctx;
    };
    const deletes = Array<string>(50).fill('delete_all');
    for (const tools of [deletes, ['echo', ...deletes], [...deletes, 'echo']]) {
      const stage = stageOn(new MemoryStore(), undefined, cfg);
      expect(stage.run(ctxFor(tools), signal)).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_RATELIMIT_BATCH', data: { limit: 2 } },
      });
    }
  });

  it('keys a bucket by its limit too: calls under a generous limit never refill a strict one', () => {
    // Scope `subject`: the policy limits delete_all to 2 refilling 0.01/s; echo may go at 1000/s. Both used
    // to take from one bucket, refilled at the rate of whichever call took: echo's refilled delete_all's.
    let now = T0;
    const limiter = createRateLimiter({
      store: new MemoryStore(),
      failureMode: 'local',
      logger: silentLogger(),
      now: () => now,
    });
    const stage = ratelimitStage(limiter, { ...CFG, scope: 'subject' });
    const call = (tool: string, capacity: number, refill: number) => {
      const ctx = contextFor(fakeRequest({}));
      ctx.principal = principal();
      const d = decided([tool])[0] as MessageDecision;
      const obligations = { rate_limit: { capacity, refill_per_second: refill } };
      ctx.decisions = [{ ...d, decision: { ...d.decision, obligations } }];
      return stage.run(ctx, signal);
    };
    expect(call('delete_all', 2, 0.01)).toEqual({ kind: 'continue' });
    expect(call('delete_all', 2, 0.01)).toEqual({ kind: 'continue' });
    for (let i = 0; i < 10; i++) {
      now += 100;
      expect(call('echo', 1000, 1000)).toEqual({ kind: 'continue' });
      expect(call('delete_all', 2, 0.01)).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_RATELIMIT_EXCEEDED' },
      });
    }
    // A second's refill at its own rate (0.01/s) is still no token: only after 100 s is there one.
    now += 100_000;
    expect(call('delete_all', 2, 0.01)).toEqual({ kind: 'continue' });
  });

  it('finds only configured tiers for a role, not Object properties (constructor, __proto__)', () => {
    for (const role of ['constructor', 'toString', '__proto__']) {
      const d = allowed([classify('ping', 1, {})], 2)[0] as MessageDecision;
      const withoutObligation = { ...d, decision: { ...d.decision, obligations: {} } };
      expect(specFor(withoutObligation, principal({ roles: [role] }), CFG)).toEqual(CFG.default);
    }
  });

  it('marks every request refused when limits cannot be checked (503), as a backend refusal', async () => {
    const store = Object.create(new MemoryStore()) as Store;
    Object.defineProperty(store, 'takeTokenNow', { value: undefined });
    store.takeToken = () => Promise.reject(new Error('store down'));
    const stage = ratelimitStage(
      createRateLimiter({ store, failureMode: 'closed', logger: silentLogger(), now: () => T0 }),
      CFG,
    );
    const ctx = context(['echo', 'search_docs']);
    expect(await stage.run(ctx, signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_RATELIMIT_BACKEND' },
    });
    expect(ctx.decisions.map((d) => d.lateRefusal)).toEqual([
      { code: 'ERR_RATELIMIT_BACKEND', reason: 'rate limits cannot be checked' },
      { code: 'ERR_RATELIMIT_BACKEND', reason: 'rate limits cannot be checked' },
    ]);
  });

  it('charges a policy denial that policy.dryRun lets through (it is forwarded), and no other denial', () => {
    const stage = stageOn(new MemoryStore());
    const ctx = context(['echo', 'echo']);
    const [first, second] = ctx.decisions as [MessageDecision, MessageDecision];
    const denied = { ...first.decision, allow: false };
    ctx.decisions = [
      { ...first, decision: denied, dryRun: true },
      { ...second, decision: denied },
    ];
    expect(stage.run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.decisions.map((d) => d.rateLimit?.remaining)).toEqual([1, undefined]);
  });

  it('leaves allowed bodies unmarked', () => {
    const ctx = context(['echo', 'search_docs']);
    expect(stageOn(new MemoryStore()).run(ctx, signal)).toEqual({ kind: 'continue' });
    expect(ctx.decisions.map((d) => d.lateRefusal)).toEqual([undefined, undefined]);
  });
  it('charges notifications to one bucket per caller, sized by its role tier, and refuses them when empty', () => {
    const stage = stageOn(new MemoryStore());
    const notifications = (n: number, decisions: MessageDecision[] = []) => {
      const ctx = contextFor(fakeRequest({}));
      // A guest: tier 50 tokens, 1 a second.
      ctx.principal = principal({ roles: ['guest'] });
      ctx.decisions = decisions;
      const note = { kind: 'notification', method: 'notifications/cancelled', params: {} } as const;
      ctx.parsed = { batch: n > 1, messages: Array(n).fill(note) };
      return ctx;
    };
    const first = notifications(49);
    expect(stage.run(first, signal)).toEqual({ kind: 'continue' });
    expect(first.responseHeaders).toMatchObject({ 'ratelimit-policy': '"default";q=50;w=50' });
    // More at once than the bucket ever holds: refused before any token is taken.
    expect(stage.run(notifications(51), signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_RATELIMIT_BATCH', data: { limit: 50, requested: 51 } },
    });
    expect(stage.run(notifications(1), signal)).toEqual({ kind: 'continue' });
    const empty = notifications(1);
    expect(stage.run(empty, signal)).toMatchObject({
      kind: 'deny',
      error: {
        code: 'ERR_RATELIMIT_EXCEEDED',
        message: 'Too Many Requests: rate limit for notifications exceeded; retry in 1 s',
      },
    });
    expect(empty.responseHeaders['retry-after']).toBe('1');
    // A request's own bucket is another: a call with a notification beside it is refused for the
    // notification, and its request says so.
    const mixed = notifications(1, decided(['echo']));
    expect(stage.run(mixed, signal)).toMatchObject({ kind: 'deny' });
    expect(mixed.decisions[0]?.lateRefusal?.reason).toBe(
      'rate limit exceeded (for notifications, in the same batch)',
    );
  });

  it('takes a token for each client response from the notifications bucket (none is tied to a server request)', () => {
    const stage = stageOn(new MemoryStore());
    const responses = (n: number) => {
      const ctx = contextFor(fakeRequest({}));
      ctx.principal = principal({ roles: ['guest'] }); // tier: 50 tokens, 1 a second
      ctx.parsed = {
        batch: n > 1,
        messages: Array.from({ length: n }, (_, i) => ({ kind: 'response', id: i }) as const),
      };
      return ctx;
    };
    const first = responses(1);
    expect(stage.run(first, signal)).toEqual({ kind: 'continue' });
    expect(first.responseHeaders).toMatchObject({ 'ratelimit-policy': '"default";q=50;w=50' });
    expect(stage.run(responses(49), signal)).toEqual({ kind: 'continue' });
    expect(stage.run(responses(1), signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_RATELIMIT_EXCEEDED' },
    });
  });
});

describe('notifications beside requests that share their bucket', () => {
  const withNotification = (tools: string[]) => {
    const ctx = context(tools);
    const note = { kind: 'notification', method: 'notifications/cancelled', params: {} } as const;
    const requests = ctx.decisions.map(
      (d) => ({ kind: 'request', id: d.action.id, method: 'tools/call', params: {} }) as const,
    );
    ctx.parsed = { batch: true, messages: [...requests, note] };
    return ctx;
  };

  // The role's tier (which notifications take) is the requests' limit, so they share one bucket.
  const sameLimit = { ...CFG, tiers: {}, default: { capacity: 2, refillPerSecond: 1 } };

  it.each(['subject', 'tenant'] as const)(
    'with scope %s, a notification in the batch does not replace its requests’ charge',
    (scope) => {
      const stage = stageOn(new MemoryStore(), undefined, { ...sameLimit, scope });
      // One bucket for everything (capacity 2 from the obligation): [echo, note] takes both tokens.
      const first = withNotification(['echo']);
      expect(stage.run(first, signal)).toEqual({ kind: 'continue' });
      expect(first.decisions[0]?.rateLimit).toMatchObject({ limit: 2, remaining: 0, allowed: true });
      expect(stage.run(withNotification(['echo']), signal)).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_RATELIMIT_EXCEEDED' },
      });
      // Two calls and a notification never fit a bucket of 2.
      const stage2 = stageOn(new MemoryStore(), undefined, { ...sameLimit, scope });
      expect(stage2.run(withNotification(['echo', 'echo']), signal)).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_RATELIMIT_BATCH', data: { limit: 2, requested: 3 } },
      });
    },
  );

  it('with scope subject_tool, a listed tool named (notifications) keeps its calls charged', () => {
    const stage = stageOn(new MemoryStore(), undefined, sameLimit);
    const ctx = withNotification(['(notifications)', '(notifications)']);
    expect(stage.run(ctx, signal)).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_RATELIMIT_BATCH', data: { requested: 3 } },
    });
  });
});

describe('ratelimit stage: headers of a body using several buckets', () => {
  it('reports the bucket closest to empty, not whichever was charged last', () => {
    const stage = stageOn(new MemoryStore());
    // Spend `echo` down to its last token: 5 capacity, 4 calls.
    expect(stage.run(context(['echo', 'echo', 'echo', 'echo'], 5), signal)).toEqual({ kind: 'continue' });
    // One more to echo (its last token) and one to search_docs (4 left after it), in that order.
    const ctx = context(['echo', 'search_docs'], 5);
    expect(stage.run(ctx, signal)).toEqual({ kind: 'continue' });
    // A client reading RateLimit must not be told 4 are left when its next echo call is refused.
    expect(ctx.responseHeaders.ratelimit).toBe('"default";r=0;t=5');
  });
});
