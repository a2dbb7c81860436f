/**
 * The reply filter's part in task isolation (src/mcp/reply-filter.ts with src/mcp/task-owners.ts): a reply
 * creating a task binds it to the caller and passes untouched; a `tasks/list` reply keeps only the caller's
 * tasks; a reply of either shape under an unexpected id counts all the same once the filter is active; a
 * body with no task request is not looked at.
 *
 * @module
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { idKey, ReplyFilter } from '../../../src/mcp/reply-filter.js';
import { TaskOwners } from '../../../src/mcp/task-owners.js';
import type { TaskRequestKind } from '../../../src/pipeline/context.js';
import { principal } from '../../helpers/principal.js';

const alice = principal({ id: 'alice' });
const mallory = principal({ id: 'mallory' });

function filterFor(
  owners: TaskOwners,
  pending: [number, TaskRequestKind][],
  caller = alice,
  anyList = false,
): ReplyFilter {
  return new ReplyFilter(new Map(), anyList, () => true, new AnnotationCache(), {
    tasks: { owners, caller, pending: new Map(pending.map(([id, k]) => [idKey(id), k])) },
  });
}

const created = (id: number, taskId: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, result: { task: { taskId, status: 'working', ttl: 60_000 } } });
const listed = (id: number, ...taskIds: string[]) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    result: { tasks: taskIds.map((taskId) => ({ taskId })), nextCursor: 'n' },
  });

describe('ReplyFilter and tasks', () => {
  it('prunes a list field of a task reply as it prunes any list reply', () => {
    const owners = new TaskOwners();
    const secretTools = { tools: [{ name: 'open' }, { name: 'secret_admin' }] };
    const visible = ({ name }: { name: string }) => !name.startsWith('secret');
    const filter = new ReplyFilter(new Map(), true, visible, new AnnotationCache(), {
      tasks: { owners, caller: alice, pending: new Map([[idKey(1), 'list' as const]]) },
    });
    const shapes = [
      { ...secretTools, tasks: [] },
      { ...secretTools, task: { taskId: 't-9', status: 'working', ttl: 60_000 } },
    ];
    for (const [i, result] of shapes.entries()) {
      const out = JSON.parse(
        filter.rewriteJson(JSON.stringify({ jsonrpc: '2.0', id: i + 1, result })) ?? '{}',
      );
      expect(out.result.tools).toEqual([{ name: 'open' }]);
    }
  });

  it('binds a task created in reply to a pending request to the caller, passing the reply as it came', () => {
    const owners = new TaskOwners();
    const text = created(1, 't-1');
    expect(filterFor(owners, [[1, 'create']]).rewriteJson(text)).toBe(text);
    expect(owners.mayUse('t-1', alice)).toBe(true);
    expect(owners.mayUse('t-1', mallory)).toBe(false);
  });

  it('prunes a tasks/list reply to the caller’s own tasks', () => {
    const owners = new TaskOwners();
    owners.bind('mine', alice, 60_000);
    owners.bind('theirs', mallory, 60_000);
    const out = filterFor(owners, [[2, 'list']]).rewriteJson(listed(2, 'mine', 'theirs', 'nobody’s'));
    expect(JSON.parse(out ?? '')).toEqual({
      jsonrpc: '2.0',
      id: 2,
      result: { tasks: [{ taskId: 'mine' }], nextCursor: 'n' },
    });
  });

  it('lists no task in a tasks/list reply whose result is no object (an array of other callers’ tasks, say)', () => {
    const owners = new TaskOwners();
    owners.bind('theirs', mallory, 60_000);
    const reply = JSON.stringify({ jsonrpc: '2.0', id: 2, result: [{ taskId: 'theirs' }] });
    const out = filterFor(owners, [[2, 'list']]).rewriteJson(reply);
    expect(JSON.parse(out ?? '')).toEqual({ jsonrpc: '2.0', id: 2, result: { tasks: [] } });
  });

  it('treats replies of either shape under another id alike once active', () => {
    const owners = new TaskOwners();
    owners.bind('theirs', mallory, 60_000);
    const filter = filterFor(owners, [[1, 'create']]);
    filter.rewriteJson(created(9, 't-9'));
    expect(owners.mayUse('t-9', alice)).toBe(true);
    expect(JSON.parse(filter.rewriteJson(listed(7, 'theirs')) ?? '').result.tasks).toEqual([]);
  });

  it('binds a flat 2026-07-28 task result only in reply to the request that may create it', () => {
    // A 2026-07-28 tasks/get answers `resultType: "task"` too: with unknownTasks: forward, a poller batching
    // it beside a task-creating call must not take over the task it polled.
    const owners = new TaskOwners({ unknown: 'forward' });
    const flat = (id: number, taskId: string) =>
      JSON.stringify({ jsonrpc: '2.0', id, result: { resultType: 'task', taskId, status: 'working' } });
    const filter = filterFor(owners, [[1, 'create']], mallory);
    filter.rewriteJson(flat(2, 'alices'));
    expect(owners.size).toBe(0);
    expect(owners.mayUse('alices', alice)).toBe(true);
    filter.rewriteJson(flat(1, 'mallorys'));
    expect(owners.mayUse('mallorys', alice)).toBe(false);
  });

  it('binds and prunes on a stream that can carry any reply (SSE events)', () => {
    const owners = new TaskOwners();
    owners.bind('theirs', mallory, 60_000);
    const filter = filterFor(owners, [], alice, true);
    const event = (data: string): EventSourceMessage => ({ event: 'message', data, id: undefined });
    filter.rewriteEvent(event(created(3, 't-3')));
    expect(owners.mayUse('t-3', alice)).toBe(true);
    expect(JSON.parse(filter.rewriteEvent(event(listed(4, 'theirs', 't-3'))) ?? '').result.tasks).toEqual([
      { taskId: 't-3' },
    ]);
  });

  it('looks at nothing when the body has no task request (a stateless POST)', () => {
    const owners = new TaskOwners();
    const filter = filterFor(owners, []);
    expect(filter.active).toBe(false);
    expect(filterFor(owners, [[1, 'create']]).active).toBe(true);
  });

  it('does not bind the task of a reply to a tasks/list request', () => {
    const owners = new TaskOwners();
    filterFor(owners, [[1, 'list']]).rewriteJson(
      JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tasks: [], task: { taskId: 't-x' } } }),
    );
    expect(owners.size).toBe(0);
  });
  it('lists no task the caller did not create, even when unknown tasks are forwarded', () => {
    // `forward` lets a caller who knows an unknown task's id use it; a tasks/list reply must not hand every
    // caller the ids of all tasks this replica does not know (after a restart: everyone's).
    const owners = new TaskOwners({ unknown: 'forward' });
    owners.bind('mine', alice, 60_000);
    const out = filterFor(owners, [[2, 'list']]).rewriteJson(listed(2, 'mine', 'someone else’s'));
    expect(JSON.parse(out ?? '').result.tasks).toEqual([{ taskId: 'mine' }]);
  });

  it('lists no tasks to anonymous callers, who are all one caller', () => {
    // Anonymous tasks are kept apart only by their ids being unguessable: a list would hand them out.
    const owners = new TaskOwners();
    const anonymous = principal({ id: null, authMethod: 'anonymous', tenant: null, roles: [] });
    owners.bind('anon-1', anonymous, 60_000);
    owners.bind('anon-2', anonymous, 60_000);
    const out = filterFor(owners, [[2, 'list']], anonymous).rewriteJson(listed(2, 'anon-1', 'anon-2'));
    expect(JSON.parse(out ?? '').result.tasks).toEqual([]);
    expect(owners.mayUse('anon-1', anonymous)).toBe(true);
  });
});
