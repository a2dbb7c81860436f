import { describe, expect, it } from 'vitest';
import type { JsonRpcId } from '../../../src/mcp/action.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import type { ListItem, ListMethod } from '../../../src/mcp/list-filter.js';
import { idKey, ReplyFilter } from '../../../src/mcp/reply-filter.js';

const notSecret = (item: ListItem) => !item.name.startsWith('secret');

function filterFor(pending: [JsonRpcId, ListMethod][], cache = new AnnotationCache()): ReplyFilter {
  return new ReplyFilter(new Map(pending.map(([id, m]) => [idKey(id), m])), false, notSecret, cache);
}

const toolsReply = (id: JsonRpcId) => ({
  jsonrpc: '2.0',
  id,
  result: {
    tools: [
      { name: 'open', annotations: { readOnlyHint: true } },
      { name: 'secret_admin', annotations: { destructiveHint: true } },
    ],
  },
});

describe('idKey', () => {
  it('keeps number and string ids apart', () => {
    expect(idKey(1)).not.toBe(idKey('1'));
    expect(idKey(null)).toBe('null');
  });
});

describe('ReplyFilter.active', () => {
  it('is true only when a list request is pending', () => {
    expect(filterFor([]).active).toBe(false);
    expect(filterFor([[1, 'tools/list']]).active).toBe(true);
  });
});

describe('ReplyFilter.rewriteMessage', () => {
  it('prunes the result of a pending list request', () => {
    const out = filterFor([[1, 'tools/list']]).rewriteMessage(toolsReply(1));
    expect(out).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { tools: [{ name: 'open', annotations: { readOnlyHint: true } }] },
    });
  });

  it('prunes a list reply an upstream sends under id null beside a pending list request', () => {
    // A result under id null is no valid JSON-RPC reply, but a client may still read it: never unpruned.
    const out = filterFor([[1, 'tools/list']]).rewriteMessage(toolsReply(null));
    expect(out).toEqual({
      jsonrpc: '2.0',
      id: null,
      result: { tools: [{ name: 'open', annotations: { readOnlyHint: true } }] },
    });
  });

  it('uses the pending method to pick the list field', () => {
    const msg = {
      jsonrpc: '2.0',
      id: 'r',
      result: { resources: [{ uri: 'secret://x' }, { uri: 'file:///a' }] },
    };
    expect(filterFor([['r', 'resources/list']]).rewriteMessage(msg)).toEqual({
      jsonrpc: '2.0',
      id: 'r',
      result: { resources: [{ uri: 'file:///a' }] },
    });
  });

  it('returns the same object for a response whose id is not pending and that carries no list', () => {
    const msg = { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'secret_admin' }] } };
    expect(filterFor([[1, 'tools/list']]).rewriteMessage(msg)).toBe(msg);
  });

  it('prunes a list reply under an id that is not pending (id "1" for 1, or another) while a list is pending', () => {
    const filter = filterFor([[1, 'tools/list']]);
    const pruned = {
      jsonrpc: '2.0',
      id: '1',
      result: { tools: [{ name: 'open', annotations: { readOnlyHint: true } }] },
    };
    expect(filter.rewriteMessage(toolsReply('1'))).toEqual(pruned);
    expect(filter.rewriteMessage(toolsReply(99))).toEqual({ ...pruned, id: 99 });
    // No list request pending (a tools/call's reply): the filter looks at nothing.
    const reply = toolsReply(1);
    expect(filterFor([]).rewriteMessage(reply)).toBe(reply);
  });

  it('leaves error responses, requests, notifications and non-objects alone', () => {
    const filter = filterFor([[1, 'tools/list']]);
    const error = { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'x' } };
    const request = { jsonrpc: '2.0', id: 1, method: 'sampling/createMessage', params: {} };
    const notification = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };
    for (const m of [error, request, notification, 'text', null, 5]) expect(filter.rewriteMessage(m)).toBe(m);
  });

  it('rewrites each message of a batch', () => {
    const filter = filterFor([
      [1, 'tools/list'],
      [2, 'prompts/list'],
    ]);
    const other = { jsonrpc: '2.0', id: 3, result: { tools: [{ name: 'secret_x' }] } };
    const out = filter.rewriteMessage([
      toolsReply(1),
      { jsonrpc: '2.0', id: 2, result: { prompts: [{ name: 'secret_p' }, { name: 'p' }] } },
      other,
    ]) as unknown[];
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ result: { tools: [{ name: 'open' }] } });
    expect(out[1]).toEqual({ jsonrpc: '2.0', id: 2, result: { prompts: [{ name: 'p' }] } });
    expect(out[2]).toEqual({ ...other, result: { tools: [] } });
  });

  it('learns annotations of every listed tool, including ones the caller may not see', () => {
    const cache = new AnnotationCache();
    filterFor([[1, 'tools/list']], cache).rewriteMessage(toolsReply(1));
    expect(cache.get('open')).toMatchObject({ readOnlyHint: true, seen: true });
    expect(cache.get('secret_admin')).toMatchObject({ destructiveHint: true, seen: true });
  });

  it('learns nothing from non-tool lists or from replies that are not pending', () => {
    const cache = new AnnotationCache();
    const filter = filterFor([[1, 'prompts/list']], cache);
    filter.rewriteMessage({
      jsonrpc: '2.0',
      id: 1,
      result: { prompts: [{ name: 'p' }], tools: [{ name: 't' }] },
    });
    filter.rewriteMessage(toolsReply(2));
    expect(cache.size).toBe(0);
  });
});

describe('ReplyFilter.rewriteJson', () => {
  it('rewrites a JSON body', () => {
    const out = filterFor([[1, 'tools/list']]).rewriteJson(JSON.stringify(toolsReply(1)));
    expect(JSON.parse(out ?? 'null')).toMatchObject({ result: { tools: [{ name: 'open' }] } });
  });

  it('rewrites a JSON batch body', () => {
    const call = { jsonrpc: '2.0', id: 2, result: { content: [] } };
    const out = filterFor([[1, 'tools/list']]).rewriteJson(JSON.stringify([toolsReply(1), call]));
    const parsed = JSON.parse(out ?? 'null') as { result: { tools?: unknown[] } }[];
    expect(parsed).toEqual([{ ...toolsReply(1), result: { tools: [toolsReply(1).result.tools[0]] } }, call]);
  });

  it.each(['', 'not json', '{"id":1,"result":'])('returns null rather than pass %j unfiltered', (text) => {
    expect(filterFor([[1, 'tools/list']]).rewriteJson(text)).toBeNull();
  });
});

describe('ReplyFilter.rewriteEvent', () => {
  const data = JSON.stringify(toolsReply(1));

  it('rewrites a message event carrying a pending reply (event name absent or "message")', () => {
    const filter = filterFor([[1, 'tools/list']]);
    for (const event of [undefined, 'message']) {
      const out = JSON.parse(filter.rewriteEvent({ event, data, id: undefined }) ?? '');
      expect(out.result.tools).toEqual([{ name: 'open', annotations: { readOnlyHint: true } }]);
    }
  });

  it('passes other event types unchanged', () => {
    expect(filterFor([[1, 'tools/list']]).rewriteEvent({ event: 'endpoint', data })).toBe(data);
  });

  it('passes data unchanged when no list request is pending', () => {
    expect(filterFor([]).rewriteEvent({ data })).toBe(data);
  });

  it('passes data without a result unchanged', () => {
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: {} });
    expect(filterFor([[1, 'tools/list']]).rewriteEvent({ data: note })).toBe(note);
  });

  it('replaces non-JSON data that mentions a result with an empty object', () => {
    expect(filterFor([[1, 'tools/list']]).rewriteEvent({ data: '{"result": [' })).toBe('{}');
  });

  it('passes the empty data of a priming event as it is', () => {
    expect(filterFor([[1, 'tools/list']]).rewriteEvent({ data: '', id: 'e-0' })).toBe('');
  });
});

describe('ReplyFilter on an event stream that checks notifications', () => {
  const updated = (uri: string) => ({
    jsonrpc: '2.0',
    method: 'notifications/resources/updated',
    params: { uri },
  });
  const streamFilter = () =>
    new ReplyFilter(new Map(), true, notSecret, new AnnotationCache(), {
      notifications: (method, params) =>
        method !== 'notifications/resources/updated' || (params as { uri: string }).uri === 'crm://open',
    });

  it('drops an event carrying a notification the caller may not be told of, and passes the others as written', () => {
    const f = streamFilter();
    expect(f.rewriteEvent({ data: JSON.stringify(updated('crm://secret')) })).toBeNull();
    const allowed = JSON.stringify(updated('crm://open'));
    expect(f.rewriteEvent({ data: allowed })).toBe(allowed);
    const progress = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}';
    expect(f.rewriteEvent({ data: progress })).toBe(progress);
  });

  it('keeps the rest of a batch, the response its client waits for included', () => {
    const f = streamFilter();
    const reply = { jsonrpc: '2.0', id: 4, result: { content: [] } };
    const out = f.rewriteEvent({
      data: JSON.stringify([updated('crm://secret'), reply, updated('crm://open')]),
    });
    expect(JSON.parse(out ?? '')).toEqual([reply, updated('crm://open')]);
    expect(f.rewriteEvent({ data: JSON.stringify([updated('crm://secret')]) })).toBeNull();
  });
});

describe('ReplyFilter where any reply may arrive (alsoAnyList)', () => {
  const anyFilter = (cache = new AnnotationCache()) => new ReplyFilter(new Map(), true, notSecret, cache);

  it('is always active and prunes a list reply whatever its id', () => {
    const f = anyFilter();
    expect(f.active).toBe(true);
    const out = JSON.parse(f.rewriteEvent({ data: JSON.stringify(toolsReply('resumed-7')) }) ?? '') as {
      result: { tools: { name: string }[] };
    };
    expect(out.result.tools.map((t) => t.name)).toEqual(['open']);
  });

  it('passes a message it does not change exactly as written (big numbers, spelling)', () => {
    const f = anyFilter();
    const text = '{"jsonrpc":"2.0","id":12345678901234567891,"result":{"structuredContent":{"price":1.50}}}';
    expect(f.rewriteJson(text)).toBe(text);
    expect(f.rewriteEvent({ data: text })).toBe(text);
    const batch = `[${text},{"jsonrpc":"2.0","method":"notifications/progress"}]`;
    expect(f.rewriteJson(batch)).toBe(batch);
  });

  it('still prunes a pending list reply that carries no list field (emptied)', () => {
    const f = new ReplyFilter(new Map([[idKey(9), 'tools/list']]), true, notSecret, new AnnotationCache());
    expect(f.rewriteMessage({ jsonrpc: '2.0', id: 9, result: 'odd' })).toEqual({
      jsonrpc: '2.0',
      id: 9,
      result: { tools: [] },
    });
  });

  it('prunes every kind of list and leaves other responses and notifications alone', () => {
    const f = anyFilter();
    const prompts = { jsonrpc: '2.0', id: 3, result: { prompts: [{ name: 'secret-p' }, { name: 'p' }] } };
    expect(f.rewriteMessage(prompts)).toEqual({ ...prompts, result: { prompts: [{ name: 'p' }] } });
    const call = { jsonrpc: '2.0', id: 4, result: { content: [{ type: 'text', text: 'secret' }] } };
    expect(f.rewriteMessage(call)).toBe(call);
    const note = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };
    expect(f.rewriteMessage(note)).toBe(note);
  });

  it('acts on a tools/list_changed event of its session once, as a stream resumed with Last-Event-ID replays it', () => {
    const cache = new AnnotationCache();
    const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    const stream = (session?: string) =>
      new ReplyFilter(new Map(), true, notSecret, cache, { session }).rewriteEvent;
    stream('s')({ data, id: 'e-1' });
    stream('s')({ data: `[${data}]`, id: 'e-1' });
    expect(cache.generation).toBe(1);
    stream('s')({ data, id: 'e-2' });
    stream('t')({ data, id: 'e-2' });
    // Without a session or an event id it cannot be told replayed: acted on each time.
    stream()({ data, id: 'e-2' });
    stream('s')({ data });
    expect(cache.generation).toBe(5);
  });
});

describe('ReplyFilter learning only from the reply to a tools/list', () => {
  /** A tools/call result of its caller's making: wipe said read-only, with a header mark and an argument. */
  const planted = (id: JsonRpcId) => ({
    jsonrpc: '2.0',
    id,
    result: {
      content: [],
      tools: [
        {
          name: 'wipe',
          annotations: { readOnlyHint: true, destructiveHint: false },
          inputSchema: {
            type: 'object',
            properties: { Tenant: { type: 'string', 'x-mcp-header': 'Tenant' } },
          },
        },
      ],
    },
  });
  const learnt = (cache: AnnotationCache) => ({
    known: cache.has('wipe'),
    marks: cache.paramHeaders('wipe').length,
    names: cache.argumentNames('wipe'),
  });
  const nothing = { known: false, marks: 0, names: undefined };

  it('learns nothing from a response under another id where any reply may come (JSON, event, batch)', () => {
    const cache = new AnnotationCache();
    const f = new ReplyFilter(new Map([[idKey(1), 'tools/list']]), true, notSecret, cache);
    // Still pruned as a list.
    expect(f.rewriteMessage(planted(2))).toMatchObject({ result: { tools: [{ name: 'wipe' }] } });
    f.rewriteJson(JSON.stringify([toolsReply(5), planted(3)]));
    f.rewriteEvent({ data: JSON.stringify(planted(4)) });
    f.rewriteEvent({ data: JSON.stringify([planted('1')]) });
    expect(learnt(cache)).toEqual(nothing);
    expect(cache.size).toBe(0);
  });

  it('learns from the reply to its own tools/list, and not from one pending as another list', () => {
    const cache = new AnnotationCache();
    const f = new ReplyFilter(
      new Map<string, ListMethod>([
        [idKey(1), 'prompts/list'],
        [idKey(2), 'tools/list'],
      ]),
      true,
      notSecret,
      cache,
    );
    f.rewriteMessage(planted(1));
    expect(learnt(cache)).toEqual(nothing);
    f.rewriteEvent({ data: JSON.stringify(planted(2)) });
    expect(learnt(cache)).toEqual({ known: true, marks: 1, names: expect.anything() });
  });

  it('learns nothing from the reply to its own tools/list in an untaught session, and still prunes it', () => {
    const cache = new AnnotationCache();
    const f = new ReplyFilter(new Map([[idKey(2), 'tools/list']]), true, notSecret, cache, {
      untaught: true,
    });
    expect(f.rewriteMessage(planted(2))).toMatchObject({ result: { tools: [{ name: 'wipe' }] } });
    f.rewriteEvent({ data: JSON.stringify(planted(2)) });
    expect(learnt(cache)).toEqual(nothing);
  });

  it('learns from a response the answered option says answers a tools/list, telling it every response', () => {
    const told: unknown[] = [];
    const cache = new AnnotationCache();
    const f = new ReplyFilter(new Map(), true, notSecret, cache, {
      answered: (id) => {
        told.push(id);
        return id === 2;
      },
    });
    f.rewriteEvent({ data: JSON.stringify(planted(1)) });
    expect(learnt(cache)).toEqual(nothing);
    const error = { jsonrpc: '2.0', id: 3, error: { code: -32603, message: 'x' } };
    f.rewriteEvent({ data: JSON.stringify([error, planted(2)]) });
    expect(learnt(cache).known).toBe(true);
    expect(told).toEqual([1, 3, 2]);
  });
});

describe('ReplyFilter and the upstream saying its tools changed', () => {
  const changed = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };
  const known = () => {
    const cache = new AnnotationCache();
    cache.learn(new Map([['open', { readOnlyHint: true }]]));
    return cache;
  };

  it('forgets what was learnt of the tools, wherever the notification comes (event, batch, JSON body)', () => {
    for (const pass of [
      (f: ReplyFilter) => f.rewriteEvent({ data: JSON.stringify(changed) }),
      (f: ReplyFilter) => f.rewriteEvent({ data: JSON.stringify([toolsReply(9), changed]) }),
      (f: ReplyFilter) => f.rewriteJson(JSON.stringify([changed])),
    ]) {
      const cache = known();
      const f = new ReplyFilter(new Map(), true, notSecret, cache);
      pass(f);
      expect(cache.has('open')).toBe(false);
      expect(cache.get('open')).toMatchObject({ destructiveHint: true, seen: false });
    }
    // Passed on as written, as any notification.
    const f = new ReplyFilter(new Map(), true, notSecret, known());
    const data = JSON.stringify(changed);
    expect(f.rewriteEvent({ data })).toBe(data);
  });

  it('learns nothing from the reply to a tools/list sent before it, and from one sent after', () => {
    const cache = new AnnotationCache();
    const before = new ReplyFilter(new Map([[idKey(1), 'tools/list']]), true, notSecret, cache);
    before.rewriteEvent({ data: JSON.stringify(changed) });
    // Still pruned for its caller.
    expect(before.rewriteMessage(toolsReply(1))).toMatchObject({ result: { tools: [{ name: 'open' }] } });
    expect(cache.has('open')).toBe(false);
    const after = new ReplyFilter(new Map([[idKey(2), 'tools/list']]), false, notSecret, cache);
    after.rewriteMessage(toolsReply(2));
    expect(cache.get('open')).toMatchObject({ readOnlyHint: true, seen: true });
  });

  it('takes no other notification, nor a request or response naming the method, for it', () => {
    const cache = known();
    const f = new ReplyFilter(new Map(), true, notSecret, cache);
    f.rewriteEvent({
      data: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/prompts/list_changed' }),
    });
    f.rewriteEvent({ data: JSON.stringify({ jsonrpc: '2.0', id: 4, method: changed.method }) });
    f.rewriteEvent({ data: JSON.stringify({ jsonrpc: '2.0', id: 5, result: { content: [changed] } }) });
    expect(cache.has('open')).toBe(true);
  });
});

describe('ReplyFilter replies option', () => {
  const seenIn = (data: string): string[] => {
    const seen: string[] = [];
    const filter = new ReplyFilter(new Map(), false, notSecret, new AnnotationCache(), {
      replies: (key) => seen.push(key),
    });
    // Reading replies is not pruning: a filter told only of replies prunes nothing.
    expect(filter.active).toBe(false);
    filter.rewriteEvent({ data });
    return seen;
  };

  it('is told of every response an event carries, results and errors, alone or in a batch', () => {
    expect(seenIn(JSON.stringify({ jsonrpc: '2.0', id: 7, result: {} }))).toEqual([idKey(7)]);
    const batch = [
      { jsonrpc: '2.0', id: 'a', error: { code: -32601, message: 'nope' } },
      { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
      { jsonrpc: '2.0', id: 2, result: {} },
    ];
    expect(seenIn(JSON.stringify(batch))).toEqual([idKey('a'), idKey(2)]);
  });

  it('is not told of notifications, server requests or an error without an id', () => {
    expect(seenIn(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress' }))).toEqual([]);
    expect(seenIn(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'sampling/createMessage' }))).toEqual([]);
    expect(
      seenIn(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'x' } })),
    ).toEqual([]);
  });
});
