/**
 * MCP tasks (2025-11-25) through the sidecar, with the SDK's real `Client` and the example server's
 * `export_customers`, which may run as a task. The example server runs stateless, so its own task store
 * serves any caller any task: the sidecar's binding of each task to the caller whose call created it is
 * all that keeps tasks apart. The creator polls and reads its task; anyone else naming it, or a task the
 * sidecar never saw created, is refused before the upstream hears of it; `tasks/list` shows each caller only
 * its own tasks.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSse, connectStreamable } from '../helpers/mcp-client.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

/** MCP 2025-11-25: invalid params (-32602) for a nonexistent task; the same for another caller's. */
const REFUSED = /MCP error -32602: Invalid params: no task with this taskId was created by this caller/;
const EXPORT = { name: 'export_customers', arguments: { tenant: 'acme', limit: 2, format: 'json' } };

/** Calls `export_customers` as a task and follows it to its result (tasks/get, then tasks/result). */
async function exportAsTask(client: Client): Promise<{ taskId: string; text: string }> {
  let taskId: string | undefined;
  let text: string | undefined;
  const stream = client.experimental.tasks.callToolStream(EXPORT, CallToolResultSchema, {
    task: { ttl: 60_000 },
  });
  for await (const m of stream) {
    if (m.type === 'taskCreated') taskId = m.task.taskId;
    if (m.type === 'error') throw m.error;
    if (m.type === 'result') {
      const first = m.result.content[0];
      text = first?.type === 'text' ? first.text : undefined;
    }
  }
  if (!taskId || text === undefined) throw new Error('no task or no result');
  return { taskId, text };
}

interface AuditLine {
  readonly decision: string;
  readonly subject: { readonly id: string };
  readonly action: { readonly method: string; readonly task_id: string | null };
}

function auditLines(h: Harness): AuditLine[] {
  return h.logs.filter((l) => l.includes('"log_type":"audit"')).map((l) => JSON.parse(l) as AuditLine);
}

describe('MCP tasks through the sidecar', () => {
  let h: Harness;
  let alice: Client;
  let mallory: Client;

  beforeAll(async () => {
    h = await startHarness({ upstreamStateless: true });
    alice = await connectStreamable(h.mcpUrl, await h.bearer(['admin'], { sub: 'alice' }));
    mallory = await connectStreamable(h.mcpUrl, await h.bearer(['admin'], { sub: 'mallory' }));
  });
  afterAll(async () => {
    await Promise.allSettled([alice?.close(), mallory?.close()]);
    await h?.stop();
  });

  it('lets the creator poll its task and read the result', async () => {
    const { taskId, text } = await exportAsTask(alice);
    expect(JSON.parse(text)).toMatchObject({ tenant: 'acme', count: 2 });
    expect((await alice.experimental.tasks.getTask(taskId)).status).toBe('completed');
    const methods = h.upstream.calls().map((c) => c.method);
    expect(methods).toEqual(expect.arrayContaining(['tools/call', 'tasks/get', 'tasks/result']));
  });

  it('refuses another caller every use of the task, and the upstream never hears of it', async () => {
    const { taskId } = await exportAsTask(alice);
    h.upstream.resetCalls();
    await expect(mallory.experimental.tasks.getTask(taskId)).rejects.toThrow(REFUSED);
    await expect(mallory.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)).rejects.toThrow(
      REFUSED,
    );
    await expect(mallory.experimental.tasks.cancelTask(taskId)).rejects.toThrow(REFUSED);
    expect(h.upstream.calls()).toEqual([]);
    // The upstream would have answered: its stateless task store knows no callers.
    const direct = await connectStreamable(h.upstream.mcpUrl, {});
    try {
      expect((await direct.experimental.tasks.getTask(taskId)).taskId).toBe(taskId);
    } finally {
      await direct.close();
    }
    expect((await alice.experimental.tasks.getTask(taskId)).status).toBe('completed');
    // The audit trail names the task: its creation, the refusals, the owner's retrieval.
    const about = (l: AuditLine) => l.action.task_id === taskId;
    const seen = (method: string, who: string, decision: string) =>
      auditLines(h).some(
        (l) => about(l) && l.action.method === method && l.subject.id === who && l.decision === decision,
      );
    await until(5_000, async () => seen('tasks/get', 'alice', 'allow'));
    expect(seen('tools/call', 'alice', 'allow')).toBe(true);
    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel'])
      expect(seen(method, 'mallory', 'deny')).toBe(true);
  });

  it('refuses a task the sidecar never saw created, in the same words', async () => {
    h.upstream.resetCalls();
    await expect(alice.experimental.tasks.getTask('f'.repeat(32))).rejects.toThrow(REFUSED);
    expect(h.upstream.calls()).toEqual([]);
  });

  it('lists each caller only its own tasks', async () => {
    const mine = await exportAsTask(alice);
    const theirs = await exportAsTask(mallory);
    const ids = async (c: Client) => (await c.experimental.tasks.listTasks()).tasks.map((t) => t.taskId);
    const aliceSees = await ids(alice);
    const mallorySees = await ids(mallory);
    expect(aliceSees).toContain(mine.taskId);
    expect(aliceSees).not.toContain(theirs.taskId);
    expect(mallorySees).toContain(theirs.taskId);
    expect(mallorySees).not.toContain(mine.taskId);
    const direct = await connectStreamable(h.upstream.mcpUrl, {});
    try {
      expect(await ids(direct)).toEqual(expect.arrayContaining([mine.taskId, theirs.taskId]));
    } finally {
      await direct.close();
    }
  });

  it('binds tasks created over the legacy SSE transport as well', async () => {
    const legacyAlice = await connectSse(h.sseUrl, await h.bearer(['admin'], { sub: 'alice' }));
    try {
      const { taskId } = await exportAsTask(legacyAlice);
      expect((await alice.experimental.tasks.getTask(taskId)).taskId).toBe(taskId);
      await expect(mallory.experimental.tasks.getTask(taskId)).rejects.toThrow(REFUSED);
    } finally {
      await legacyAlice.close();
    }
  });

  it('checks the Mcp-Name header of a tasks/get against its taskId', async () => {
    const { taskId } = await exportAsTask(alice);
    const auth = await h.bearer(['admin'], { sub: 'alice' });
    const get = (name: string) =>
      fetch(h.mcpUrl, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          'mcp-method': 'tasks/get',
          'mcp-name': name,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { taskId } }),
      });
    const other = await get('another-task');
    expect(other.status).toBe(400);
    expect(await other.text()).toMatch(/Mcp-Name header does not match/);
    const same = await get(taskId);
    expect(same.status).toBe(200);
    expect(await same.text()).toContain(`"taskId":"${taskId}"`);
  });
});
