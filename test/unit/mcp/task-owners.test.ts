/**
 * Tests of MCP task ownership (src/mcp/task-owners.ts) and the task shapes on the wire (src/mcp/tasks.ts):
 * a task belongs to the caller whose reply created it, for the lifetime the upstream granted (capped, plus
 * a grace); nobody else may use it; a task never seen created is refused unless unknown tasks are
 * forwarded; an upstream reusing an id cannot hand a task to another caller; one caller's flood of tasks
 * forgets its own oldest.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { TASK_BINDING_GRACE_MS, TaskOwners } from '../../../src/mcp/task-owners.js';
import { createdTask, mayCreateTask, namedTaskId, pruneTaskList } from '../../../src/mcp/tasks.js';
import { principal } from '../../helpers/principal.js';

const alice = principal({ id: 'alice' });
const mallory = principal({ id: 'mallory' });

describe('TaskOwners', () => {
  it('lets the creator use a task and nobody else; an unknown task is refused', () => {
    const owners = new TaskOwners();
    owners.bind('t-1', alice, 60_000);
    expect(owners.mayUse('t-1', alice)).toBe(true);
    expect(owners.mayUse('t-1', mallory)).toBe(false);
    expect(owners.mayUse('t-2', alice)).toBe(false);
  });

  it('forwards unknown tasks when told to, never another caller’s', () => {
    const owners = new TaskOwners({ unknown: 'forward' });
    owners.bind('t-1', alice, 60_000);
    expect(owners.mayUse('t-2', mallory)).toBe(true);
    expect(owners.mayUse('t-1', mallory)).toBe(false);
  });

  it('keeps the first owner when an upstream reuses a task id for another caller', () => {
    const owners = new TaskOwners();
    owners.bind('t-1', alice, 60_000);
    owners.bind('t-1', mallory, 60_000);
    expect(owners.mayUse('t-1', alice)).toBe(true);
    expect(owners.mayUse('t-1', mallory)).toBe(false);
  });

  it('keeps a binding for the granted lifetime plus the grace, capped, then forgets it', () => {
    let now = 1_000_000;
    const owners = new TaskOwners({ maxBindingMs: 3_600_000, now: () => now });
    owners.bind('short', alice, 10_000);
    owners.bind('unlimited', alice, null);
    owners.bind('unsaid', alice, undefined);
    now += 10_000 + TASK_BINDING_GRACE_MS - 1;
    expect(owners.mayUse('short', alice)).toBe(true);
    now += 1;
    expect(owners.mayUse('short', alice)).toBe(false);
    now = 1_000_000 + 3_600_000 + TASK_BINDING_GRACE_MS - 1;
    expect(owners.mayUse('unlimited', alice)).toBe(true);
    expect(owners.mayUse('unsaid', alice)).toBe(true);
    now += 1;
    expect(owners.mayUse('unlimited', alice)).toBe(false);
    expect(owners.size).toBe(1);
  });

  it('lets an expired task id be bound again by a new creator', () => {
    let now = 0;
    const owners = new TaskOwners({ now: () => now });
    owners.bind('t-1', alice, 1_000);
    now += 1_000 + TASK_BINDING_GRACE_MS;
    owners.bind('t-1', mallory, 1_000);
    expect(owners.mayUse('t-1', mallory)).toBe(true);
    expect(owners.mayUse('t-1', alice)).toBe(false);
  });

  it('bounds tasks per caller (the caller’s oldest go) and in all (the oldest go)', () => {
    const owners = new TaskOwners({ max: 3, perCaller: 2 });
    owners.bind('a-1', alice, 60_000);
    owners.bind('m-1', mallory, 60_000);
    owners.bind('a-2', alice, 60_000);
    owners.bind('a-3', alice, 60_000);
    expect(owners.mayUse('a-1', alice)).toBe(false);
    expect(owners.mayUse('m-1', mallory)).toBe(true);
    expect(owners.size).toBe(3);
    owners.bind('m-2', mallory, 60_000);
    expect(owners.size).toBe(3);
    expect(owners.mayUse('m-1', mallory)).toBe(false);
    expect(['a-2', 'a-3'].every((t) => owners.mayUse(t, alice))).toBe(true);
  });

  it('refuses caps below one', () => {
    expect(() => new TaskOwners({ perCaller: 0 })).toThrow(/at least 1/);
  });
});

describe('task shapes', () => {
  it('finds the task a result creates in the 2025-11-25 and 2026-07-28 shapes', () => {
    expect(createdTask({ task: { taskId: 't-1', status: 'working', ttl: 5_000 } })).toEqual({
      taskId: 't-1',
      ttlMs: 5_000,
    });
    expect(createdTask({ resultType: 'task', taskId: 't-2', status: 'working', ttlMs: null })).toEqual({
      taskId: 't-2',
      ttlMs: null,
    });
    expect(createdTask({ resultType: 'task', task: { taskId: 't-3', ttlMs: 7 } })).toEqual({
      taskId: 't-3',
      ttlMs: 7,
    });
    expect(createdTask({ task: { taskId: 't-4', ttl: 'soon' } })).toEqual({
      taskId: 't-4',
      ttlMs: undefined,
    });
    for (const other of [
      { content: [] },
      { taskId: 't-5' },
      { task: { taskId: 5 } },
      { task: {} },
      null,
      'x',
    ])
      expect(createdTask(other)).toBeUndefined();
  });

  it('tells which requests may create a task: params.task, or the tasks extension declared per request', () => {
    expect(mayCreateTask('tools/call', { name: 'x', task: { ttl: 1 } })).toBe(true);
    expect(mayCreateTask('tools/call', { name: 'x', task: {} })).toBe(true);
    expect(
      mayCreateTask('tools/call', {
        name: 'x',
        _meta: {
          'io.modelcontextprotocol/clientCapabilities': {
            extensions: { 'io.modelcontextprotocol/tasks': {} },
          },
        },
      }),
    ).toBe(true);
    expect(mayCreateTask('tools/call', { name: 'x' })).toBe(false);
    expect(mayCreateTask('tools/call', { name: 'x', task: true })).toBe(false);
    expect(
      mayCreateTask('tools/call', {
        _meta: { 'io.modelcontextprotocol/clientCapabilities': { extensions: {} } },
      }),
    ).toBe(false);
    expect(mayCreateTask('tools/call', undefined)).toBe(false);
    expect(mayCreateTask('resources/read', { task: {} })).toBe(false);
  });

  it('reads the task a task method names, null when it names none', () => {
    expect(namedTaskId('tasks/get', { taskId: 't-1' })).toBe('t-1');
    expect(namedTaskId('tasks/update', { taskId: 't-1', inputResponses: {} })).toBe('t-1');
    expect(namedTaskId('tasks/cancel', { taskId: 7 })).toBeNull();
    expect(namedTaskId('tasks/result', {})).toBeNull();
    expect(namedTaskId('tasks/get', { taskId: '' })).toBeNull();
    expect(namedTaskId('tasks/list', {})).toBeUndefined();
    expect(namedTaskId('tools/call', { taskId: 't-1' })).toBeUndefined();
  });

  it('prunes a task list to the tasks kept, dropping entries without a task id', () => {
    const out = pruneTaskList(
      { tasks: [{ taskId: 'mine' }, { taskId: 'theirs' }, { status: 'working' }, 'x'], nextCursor: 'c' },
      (id) => id === 'mine',
    );
    expect(out).toEqual({ result: { tasks: [{ taskId: 'mine' }], nextCursor: 'c' }, total: 4, kept: 1 });
    expect(pruneTaskList({ tasks: 'all of them' }, () => true).result).toEqual({ tasks: [] });
  });
});
