/**
 * Tests of the decide stage (src/pipeline/stages/decide.ts) with a fake engine: one decision per request
 * message, synchronous when every tool has been seen listed, one discovery per unseen tool first, and a
 * body with any denied message denied as a whole.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../../src/authn/principal.js';
import { COMPLETION_REF_NEEDED } from '../../../../src/mcp/action.js';
import { AnnotationCache } from '../../../../src/mcp/annotations.js';
import { parseBody } from '../../../../src/mcp/jsonrpc.js';
import { TaskOwners } from '../../../../src/mcp/task-owners.js';
import { requestSignal } from '../../../../src/pipeline/stage.js';
import { decideStage } from '../../../../src/pipeline/stages/decide.js';
import type { Decision } from '../../../../src/policy/decision.js';
import type { PolicyEngine } from '../../../../src/policy/engine.js';
import type { PolicyInput } from '../../../../src/policy/input.js';
import { principal } from '../../../helpers/principal.js';
import { contextFor, FACTS, fakeRequest } from '../fake-request.js';

function setup(denyTools: string[] = [], dryRun = false, tasks?: TaskOwners, maxArgumentValues?: number) {
  const inputs: PolicyInput[] = [];
  const engine = {
    revision: 'r1',
    decide(input: PolicyInput): Decision {
      inputs.push(input);
      const tool = String(input.action.tool ?? input.action.uri ?? '');
      const allow = !denyTools.includes(tool);
      return {
        allow,
        reasons: allow ? [] : [`no ${tool}`],
        obligations: {},
        sensitivity: undefined,
        revision: 'r1',
        evalNs: 1,
      };
    },
  } as unknown as PolicyEngine;
  const annotations = new AnnotationCache();
  annotations.learn(new Map([['seen', { readOnlyHint: true }]]));
  const discovered: string[] = [];
  const ac = new AbortController();
  const stage = decideStage({
    engine,
    annotations,
    facts: () => FACTS,
    dryRun,
    ...(tasks ? { tasks } : {}),
    ...(maxArgumentValues !== undefined ? { maxArgumentValues } : {}),
    discover: async (tool, signal) => {
      expect(signal).toBe(ac.signal);
      discovered.push(tool);
    },
  });
  const run = (messages: unknown[], caller?: Principal) => {
    const ctx = contextFor(fakeRequest({}));
    if (caller) ctx.principal = caller;
    ctx.parsed = parseBody(JSON.stringify(messages.length === 1 ? messages[0] : messages));
    return { ctx, result: stage.run(ctx, requestSignal(ac.signal)) };
  };
  return { inputs, discovered, run };
}

const call = (id: number, name: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
});

describe('decide stage', () => {
  it('decides synchronously when every tool has been seen listed', () => {
    const { inputs, discovered, run } = setup();
    const { ctx, result } = run([call(1, 'seen')]);
    expect(result).toEqual({ kind: 'continue' });
    expect(discovered).toEqual([]);
    expect(inputs).toHaveLength(1);
    expect(ctx.decisions.map((d) => d.action.tool)).toEqual(['seen']);
  });

  it('discovers each unseen tool of a batch once, then decides every request message', async () => {
    const { inputs, discovered, run } = setup();
    const { ctx, result } = run([
      call(1, 'a'),
      call(2, 'seen'),
      call(3, 'b'),
      call(4, 'a'),
      { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
    ]);
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toEqual({ kind: 'continue' });
    expect(discovered).toEqual(['a', 'b']);
    expect(inputs.map((i) => i.action.tool)).toEqual(['a', 'seen', 'b', 'a']);
    expect(ctx.decisions.map((d) => d.index)).toEqual([0, 1, 2, 3]);
  });

  it('denies the whole body when one message is denied, with that message’s reason', () => {
    const { run } = setup(['seen']);
    const { ctx, result } = run([{ jsonrpc: '2.0', id: 1, method: 'ping' }, call(2, 'seen')]);
    expect(result).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_POLICY_DENIED', message: 'Forbidden: no seen' },
    });
    expect(ctx.decisions.map((d) => d.decision.allow)).toEqual([true, false]);
    // The allowed one is held back with it: refused for the policy's sake (its audit record, the abuse counts).
    expect(ctx.decisions.map((d) => d.lateRefusal)).toEqual([
      { code: 'ERR_POLICY_DENIED', reason: 'another message in this batch was denied' },
      undefined,
    ]);
  });

  it('with policy.dryRun, holds back a dry-run denial and an allowed call with a body refused all the same', async () => {
    const { run } = setup(['seen'], true);
    const bad = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'x', arguments: ['a'] } };
    const { ctx, result } = run(
      [call(1, 'seen'), { jsonrpc: '2.0', id: 2, method: 'ping' }, bad],
      principal(),
    );
    await expect(result).resolves.toMatchObject({
      kind: 'deny',
      error: { message: 'Forbidden: arguments must be a JSON object' },
    });
    expect(ctx.decisions.map((d) => [d.dryRun, d.lateRefusal?.code])).toEqual([
      [true, 'ERR_POLICY_DENIED'],
      [undefined, 'ERR_POLICY_DENIED'],
      [undefined, undefined],
    ]);
  });

  it('with policy.dryRun, goes on with a denied message marked dryRun, and prunes its list requests as usual', () => {
    const { run } = setup(['seen'], true);
    const { ctx, result } = run(
      [
        call(1, 'seen'),
        { jsonrpc: '2.0', id: 2, method: 'tools/list' },
        { jsonrpc: '2.0', id: 3, method: 'ping' },
      ],
      principal(),
    );
    expect(result).toEqual({ kind: 'continue' });
    expect(ctx.decisions.map((d) => [d.decision.allow, d.dryRun])).toEqual([
      [false, true],
      [true, undefined],
      [true, undefined],
    ]);
    expect([...ctx.listRequests.keys()]).toEqual(['2']);
  });

  it('with policy.dryRun, still denies an anonymous caller the policy denies (it is asked to sign in)', () => {
    const { run } = setup(['seen'], true);
    const { ctx, result } = run([call(1, 'seen')]);
    expect(result).toMatchObject({ kind: 'deny', error: { code: 'ERR_POLICY_DENIED' } });
    expect(ctx.decisions.map((d) => d.dryRun)).toEqual([undefined]);
  });

  it('with policy.dryRun, still refuses arguments the policy never saw: no object, or too many values', () => {
    const { inputs, run } = setup([], true, undefined, 3);
    const withArgs = (id: number, args: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'seen', arguments: args },
    });
    // The policy is shown `{}` for an array; the upstream would get the array as it is.
    const array = run([withArgs(1, ['delete', 'all'])], principal());
    expect(array.result).toMatchObject({
      kind: 'deny',
      error: { code: 'ERR_POLICY_DENIED', message: 'Forbidden: arguments must be a JSON object' },
    });
    expect(array.ctx.decisions.map((d) => d.dryRun)).toEqual([undefined]);
    const large = run([withArgs(2, { a: 1, b: 2, c: 3, d: 4 })], principal());
    expect(large.result).toMatchObject({ kind: 'deny', error: { code: 'ERR_ARGUMENTS_TOO_LARGE' } });
    expect(large.ctx.decisions.map((d) => d.dryRun)).toEqual([undefined]);
    expect(inputs).toEqual([]);
  });

  it('refuses a task method naming another caller’s task before the policy, even in a dry run', () => {
    const owners = new TaskOwners();
    const alice = principal({ id: 'alice' });
    owners.bind('t-alice', alice, 60_000);
    const get = (id: number, taskId: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'tasks/get',
      params: { taskId },
    });
    for (const dryRun of [false, true]) {
      const { inputs, run } = setup([], dryRun, owners);
      const { ctx, result } = run([get(1, 't-alice')], principal({ id: 'mallory' }));
      // MCP 2025-11-25: a nonexistent task is invalid params (-32602), and so is another caller's.
      expect(result).toMatchObject({
        kind: 'deny',
        error: {
          code: 'ERR_TASK_UNKNOWN',
          message: 'Invalid params: no task with this taskId was created by this caller',
        },
      });
      expect(ctx.decisions.map((d) => [d.decision.allow, d.dryRun, d.refusal])).toEqual([
        [false, undefined, 'ERR_TASK_UNKNOWN'],
      ]);
      expect(inputs).toEqual([]);
      expect(run([get(2, 't-alice')], alice).result).toEqual({ kind: 'continue' });
      expect(run([get(3, 7)], alice).result).toMatchObject({
        kind: 'deny',
        error: { message: 'Forbidden: tasks/get needs a taskId' },
      });
    }
  });

  it('refuses a request whose _meta ties it to another caller’s task, before the policy', () => {
    const owners = new TaskOwners();
    const alice = principal({ id: 'alice' });
    owners.bind('t-alice', alice, 60_000);
    const related = (id: number, method: string, params: Record<string, unknown>) => ({
      jsonrpc: '2.0',
      id,
      method,
      params: { ...params, _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't-alice' } } },
    });
    const { inputs, run } = setup([], false, owners);
    const mallory = principal({ id: 'mallory' });
    expect(run([related(1, 'tools/call', { name: 'seen', arguments: {} })], mallory).result).toMatchObject({
      kind: 'deny',
      error: { message: 'Forbidden: no task with this taskId was created by this caller' },
    });
    expect(run([related(2, 'ping', {})], mallory).result).toMatchObject({ kind: 'deny' });
    // A listen's own check (its taskIds, none or the caller's) must not pass it over.
    const listen = (id: number, taskIds?: string[]) =>
      related(id, 'subscriptions/listen', { notifications: { toolsListChanged: true, taskIds } });
    expect(run([listen(4)], mallory).result).toMatchObject({ kind: 'deny' });
    owners.bind('t-mallory', mallory, 60_000);
    expect(run([listen(5, ['t-mallory'])], mallory).result).toMatchObject({ kind: 'deny' });
    expect(inputs).toEqual([]);
    expect(run([related(3, 'tools/call', { name: 'seen', arguments: {} })], alice).result).toEqual({
      kind: 'continue',
    });
  });

  it('decides each resource a subscriptions/listen subscribes to as its resources/subscribe (2026-07-28)', () => {
    const listen = (id: number, notifications: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'subscriptions/listen',
      params: { notifications },
    });
    const { inputs, run } = setup(['crm://acme/secret']);
    const ok = run([listen(1, { toolsListChanged: true, resourceSubscriptions: ['docs://a', 'docs://b'] })]);
    expect(ok.result).toEqual({ kind: 'continue' });
    expect(inputs.map((i) => [i.action.method, i.action.uri])).toEqual([
      ['resources/subscribe', 'docs://a'],
      ['resources/subscribe', 'docs://b'],
      ['subscriptions/listen', undefined],
    ]);
    expect(ok.ctx.decisions.map((d) => d.action.method)).toEqual(['subscriptions/listen']);

    const refused = run([listen(2, { resourceSubscriptions: ['docs://a', 'crm://acme/secret'] })]);
    expect(refused.result).toMatchObject({
      kind: 'deny',
      error: { message: 'Forbidden: no crm://acme/secret' },
    });
    expect(refused.ctx.decisions.map((d) => [d.action.method, d.decision.allow])).toEqual([
      ['subscriptions/listen', false],
    ]);

    for (const bad of [{ resourceSubscriptions: 'docs://a' }, { resourceSubscriptions: ['docs://a', 7] }]) {
      expect(run([listen(3, bad)]).result).toMatchObject({
        kind: 'deny',
        error: { message: expect.stringContaining('needs notifications.resourceSubscriptions to be a list') },
      });
    }
    const tooMany = Array.from({ length: 101 }, (_, i) => `docs://${i}`);
    expect(run([listen(4, { resourceSubscriptions: tooMany })]).result).toMatchObject({ kind: 'deny' });
    // A batch of listens shares one allowance of 100 resources: each costs a decision before any rate limit.
    inputs.length = 0;
    const sixty = Array.from({ length: 60 }, (_, i) => `docs://${i}`);
    const batch = run([
      listen(7, { resourceSubscriptions: sixty }),
      listen(8, { resourceSubscriptions: sixty }),
    ]);
    expect(batch.result).toMatchObject({
      kind: 'deny',
      error: { message: 'Forbidden: a request body may subscribe to at most 100 resources in all' },
    });
    expect(inputs.filter((i) => i.action.method === 'resources/subscribe')).toHaveLength(60);
    // The allowance is exactly 100: 60 + 40 pass, 60 + 41 do not.
    const forty = Array.from({ length: 40 }, (_, i) => `docs://${i}`);
    const [seven, eight] = [
      listen(7, { resourceSubscriptions: sixty }),
      listen(8, { resourceSubscriptions: forty }),
    ];
    expect(run([seven, eight]).result).toEqual({ kind: 'continue' });
    const fortyOne = [...forty, 'docs://40'];
    expect(run([seven, listen(8, { resourceSubscriptions: fortyOne })]).result).toMatchObject({
      kind: 'deny',
      error: { message: 'Forbidden: a request body may subscribe to at most 100 resources in all' },
    });
    expect(run([listen(5, { resourceSubscriptions: ['DOCS://a'] })]).result).toMatchObject({
      kind: 'deny',
      error: { message: expect.stringContaining('write the resource URI as') },
    });
  });

  it('marks the requests whose replies may create or list tasks', () => {
    const { run } = setup([], false, new TaskOwners());
    const { ctx } = run(
      [
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'seen', arguments: {}, task: { ttl: 1 } },
        },
        call(2, 'seen'),
        { jsonrpc: '2.0', id: 3, method: 'tasks/list' },
      ],
      principal(),
    );
    expect([...(ctx.taskRequests ?? new Map())]).toEqual([
      ['1', 'create'],
      ['3', 'list'],
    ]);
  });

  it('refuses a subscriptions/listen naming another caller’s task, even in a dry run (2026-07-28)', () => {
    // The tasks extension has `subscriptions/listen` take `notifications.taskIds`: the upstream then streams
    // `notifications/tasks` carrying each task's whole state, its result included.
    const owners = new TaskOwners();
    const alice = principal({ id: 'alice' });
    owners.bind('t-alice', alice, 60_000);
    const listen = (id: number, taskIds: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'subscriptions/listen',
      params: { notifications: { toolsListChanged: true, taskIds } },
    });
    for (const dryRun of [false, true]) {
      const { run } = setup([], dryRun, owners);
      const { ctx, result } = run([listen(1, ['t-alice'])], principal({ id: 'mallory' }));
      expect(result).toMatchObject({
        kind: 'deny',
        error: { message: 'Forbidden: no task with this taskId was created by this caller' },
      });
      expect(ctx.decisions.map((d) => d.dryRun)).toEqual([undefined]);
      expect(run([listen(2, ['t-alice'])], alice).result).toEqual({ kind: 'continue' });
      expect(run([listen(3, 't-alice')], alice).result).toMatchObject({ kind: 'deny' });
      expect(run([{ ...listen(4, []), params: { notifications: {} } }], alice).result).toEqual({
        kind: 'continue',
      });
    }
  });

  it('expects a task only in reply to tools/call, the one request the tasks extension lets create one', () => {
    // A 2026-07-28 client declares its capabilities in every request: a resources/read or tasks/get
    // carrying them is no task request (its reply need not be read whole, and does not bind a task).
    const declared = {
      _meta: {
        'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
      },
    };
    const owners = new TaskOwners();
    owners.bind('t-1', principal(), 60_000);
    const { run } = setup([], false, owners);
    const { ctx } = run(
      [
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'seen', arguments: {}, ...declared } },
        { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///a', ...declared } },
        { jsonrpc: '2.0', id: 3, method: 'tasks/get', params: { taskId: 't-1', ...declared } },
        { jsonrpc: '2.0', id: 4, method: 'ping', params: { task: {} } },
      ],
      principal(),
    );
    expect([...(ctx.taskRequests ?? new Map())]).toEqual([['1', 'create']]);
  });

  it('refuses a resource URI not written in canonical form, which the upstream would read as another', () => {
    const { inputs, run } = setup();
    const read = (id: number, uri: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'resources/read',
      params: { uri },
    });
    for (const uri of [
      'CRM://customers/c-1',
      'crm://customers/./c-1',
      'crm://customers:/c-1',
      ' crm://customers/c-1',
    ]) {
      const { ctx, result } = run([read(1, uri)]);
      expect(result).toMatchObject({
        kind: 'deny',
        error: {
          code: 'ERR_POLICY_DENIED',
          message: 'Forbidden: write the resource URI as crm://customers/c-1',
        },
      });
      expect(ctx.decisions[0]?.decision).toMatchObject({ allow: false, revision: 'r1' });
    }
    expect(inputs).toEqual([]);
    expect(run([read(1, 'crm://customers/c-1')]).result).toEqual({ kind: 'continue' });
    expect(inputs.map((i) => i.action.uri)).toEqual(['crm://customers/c-1']);
  });

  it('decides a completion on the prompt or resource template its ref names, the template as written', () => {
    const { inputs, run } = setup(['crm://{tenant}/customers/{id}']);
    const complete = (id: number, ref: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'completion/complete',
      params: { ref, argument: { name: 'id', value: 'c-' }, context: { arguments: { tenant: 'acme' } } },
    });
    expect(run([complete(1, { type: 'ref/prompt', name: 'summarize' })]).result).toEqual({
      kind: 'continue',
    });
    // `{`/`}` are no URL's (its canonical form escapes them), yet the SDK server matches the template as written.
    const template = run([complete(2, { type: 'ref/resource', uri: 'crm://{tenant}/customers/{id}' })]);
    expect(template.result).toMatchObject({
      kind: 'deny',
      error: { message: 'Forbidden: no crm://{tenant}/customers/{id}' },
    });
    expect(inputs.map((i) => [i.action, i.resource.kind, i.resource.name])).toEqual([
      [
        {
          method: 'completion/complete',
          prompt: 'summarize',
          argument: { name: 'id', value: 'c-' },
          arguments: { tenant: 'acme' },
        },
        'prompt',
        'summarize',
      ],
      [
        {
          method: 'completion/complete',
          uri: 'crm://{tenant}/customers/{id}',
          argument: { name: 'id', value: 'c-' },
          arguments: { tenant: 'acme' },
        },
        'resource_template',
        'crm://{tenant}/customers/{id}',
      ],
    ]);
  });

  it('refuses a completion whose ref names no prompt or template before the policy, even in a dry run', () => {
    const { inputs, run } = setup([], true);
    for (const ref of [undefined, { type: 'ref/tool', name: 'run_sql' }, { type: 'ref/prompt' }]) {
      const msg = { jsonrpc: '2.0', id: 1, method: 'completion/complete', params: { ref } };
      const { ctx, result } = run([msg], principal());
      expect(result).toMatchObject({
        kind: 'deny',
        error: { code: 'ERR_POLICY_DENIED', message: `Forbidden: ${COMPLETION_REF_NEEDED}` },
      });
      expect(ctx.decisions.map((d) => d.dryRun)).toEqual([undefined]);
    }
    expect(inputs).toEqual([]);
  });
});
