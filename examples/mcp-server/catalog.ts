/**
 * What the example MCP server offers: twelve tools with explicit annotations (one of them callable as an MCP task) and zod input schemas,
 * two prompts, a static resource and a resource template, all over the fake data of `data.ts`.
 * `createExampleMcpServer` builds one `McpServer` (the SDK binds a server to one transport, so the HTTP
 * layer builds one per session); {@link TOOL_ANNOTATIONS} is exported so tests can compare what the
 * server advertises with what a proxy passes through.
 *
 * @module
 */
import type { TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type CrmStore, DOCS, HANDBOOK_TEXT, PRODUCTS, type Tenant, toCsv } from './data.js';

export const SERVER_NAME = 'mcp-authz-example';
export const SERVER_VERSION = '0.1.0';

/** Read-only tools: no side effects, so the other hints are stated explicitly as harmless. */
const READ_ONLY: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
};

/**
 * The annotations each tool advertises in `tools/list`. Every hint is explicit, because the MCP spec
 * defaults a missing `destructiveHint` and `openWorldHint` to true, and policies should not depend on that.
 */
export const TOOL_ANNOTATIONS = {
  echo: READ_ONLY,
  list_products: READ_ONLY,
  search_docs: READ_ONLY,
  read_customer: READ_ONLY,
  query_customer_data: READ_ONLY,
  update_customer: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  delete_customer: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  export_customers: READ_ONLY,
  run_sql: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  create_ticket: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  slow: READ_ONLY,
  progress: READ_ONLY,
} as const satisfies Record<string, ToolAnnotations>;

export type ExampleToolName = keyof typeof TOOL_ANNOTATIONS;

/** The tool names, in registration order. */
export const TOOL_NAMES = Object.keys(TOOL_ANNOTATIONS) as ExampleToolName[];

export const PROMPT_NAMES = ['greeting', 'summarize_customer'] as const;

const tenant = z.enum(['acme', 'globex'] satisfies Tenant[]).describe('Tenant that owns the data');
const customerId = z.string().min(1).describe('Customer id, e.g. c-1');

/** How long an export task and its result are kept (the SDK's task store drops it then). */
export const EXPORT_TASK_TTL_MS = 60_000;

/**
 * Builds a fresh `McpServer` over `store`. `tasks` keeps MCP tasks (2025-11-25): `export_customers` may be
 * called as a task, polled with `tasks/get` and read with `tasks/result`; one store serves every session
 * (and every stateless request) of the example server.
 */
export function createExampleMcpServer(store: CrmStore, tasks: TaskStore): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    {
      capabilities: {
        logging: {},
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      taskStore: tasks,
      instructions: 'Example CRM server for mcp-authz tests and demos.',
    },
  );
  registerTools(server, store);
  registerExportTask(server, store);
  registerPrompts(server, store);
  registerResources(server, store);
  return server;
}

/**
 * `export_customers`, the long-running kind of call tasks are for: called as a task it answers at once with
 * the task (already completed here: the fake export is instant), read with `tasks/result`; called plainly,
 * the SDK runs the same task and answers with its result.
 */
function registerExportTask(server: McpServer, store: CrmStore): void {
  server.experimental.tasks.registerToolTask(
    'export_customers',
    {
      description: 'Exports up to `limit` customers of a tenant as CSV or JSON, SSNs included.',
      inputSchema: {
        tenant,
        limit: z.number().int().min(1).max(10_000),
        format: z.enum(['csv', 'json']),
      },
      annotations: TOOL_ANNOTATIONS.export_customers,
      execution: { taskSupport: 'optional' },
    },
    {
      createTask: async ({ tenant: t, limit, format }, extra) => {
        const task = await extra.taskStore.createTask({ ttl: EXPORT_TASK_TTL_MS, pollInterval: 10 });
        const rows = store.byTenant(t).slice(0, limit);
        const result =
          format === 'csv'
            ? text(toCsv(rows), { tenant: t, format, count: rows.length })
            : ok({ tenant: t, format, count: rows.length, customers: rows });
        await extra.taskStore.storeTaskResult(task.taskId, 'completed', result);
        return { task: await extra.taskStore.getTask(task.taskId) };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) =>
        (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
    },
  );
}

function registerTools(server: McpServer, store: CrmStore): void {
  const a = TOOL_ANNOTATIONS;
  server.registerTool(
    'echo',
    { description: 'Echoes the text back.', inputSchema: { text: z.string() }, annotations: a.echo },
    async ({ text }) => ok({ text }),
  );
  server.registerTool(
    'list_products',
    { description: 'Lists the product catalog.', inputSchema: {}, annotations: a.list_products },
    async () => ok({ products: PRODUCTS }),
  );
  server.registerTool(
    'search_docs',
    {
      description: 'Searches the public documentation (case-insensitive substring).',
      inputSchema: { query: z.string() },
      annotations: a.search_docs,
    },
    async ({ query }) => {
      const q = query.toLowerCase();
      const hits = DOCS.filter((d) => `${d.title} ${d.body}`.toLowerCase().includes(q));
      return ok({ query, results: hits });
    },
  );
  server.registerTool(
    'read_customer',
    {
      description: 'Reads one customer record, including the SSN.',
      inputSchema: { tenant, id: customerId },
      annotations: a.read_customer,
    },
    async ({ tenant: t, id }) => {
      const customer = store.find(t, id);
      return customer ? ok({ customer }) : fail(`customer ${id} not found in tenant ${t}`);
    },
  );
  server.registerTool(
    'query_customer_data',
    {
      description: 'Finds customers of a tenant whose name, email, plan or notes contain the query.',
      inputSchema: { tenant, query: z.string(), limit: z.number().int().min(1).max(100).optional() },
      annotations: a.query_customer_data,
    },
    async ({ tenant: t, query, limit }) => {
      const q = query.toLowerCase();
      const rows = store
        .byTenant(t)
        .filter((c) => [c.name, c.email, c.plan, c.notes].some((v) => v.toLowerCase().includes(q)))
        .slice(0, limit ?? 10);
      return ok({ tenant: t, query, customers: rows });
    },
  );
  server.registerTool(
    'update_customer',
    {
      description: 'Updates name, email, plan or notes of a customer. Other fields are ignored.',
      inputSchema: { tenant, id: customerId, fields: z.record(z.string(), z.unknown()) },
      annotations: a.update_customer,
    },
    async ({ tenant: t, id, fields }) => {
      const customer = store.update(t, id, fields);
      return customer ? ok({ customer }) : fail(`customer ${id} not found in tenant ${t}`);
    },
  );
  server.registerTool(
    'delete_customer',
    {
      description: 'Deletes a customer. Deleting an absent customer succeeds with deleted=false.',
      inputSchema: { tenant, id: customerId },
      annotations: a.delete_customer,
    },
    async ({ tenant: t, id }) => ok({ id, deleted: store.delete(t, id) }),
  );
  server.registerTool(
    'run_sql',
    {
      description: 'Runs raw SQL against the CRM database (fake: nothing is executed).',
      inputSchema: { query: z.string() },
      annotations: a.run_sql,
    },
    async ({ query }) => ok({ query, executed: false, rowCount: 0, rows: [] }),
  );
  server.registerTool(
    'create_ticket',
    {
      description: 'Opens a support ticket.',
      inputSchema: {
        tenant,
        title: z.string().min(1),
        body: z.string(),
        customer_ssn: z.string().optional(),
      },
      annotations: a.create_ticket,
    },
    async ({ tenant: t, title, body, customer_ssn }) =>
      ok({
        ticket: store.createTicket({
          tenant: t,
          title,
          body,
          ...(customer_ssn !== undefined && { customerSsn: customer_ssn }),
        }),
      }),
  );
  server.registerTool(
    'slow',
    {
      description: 'Waits `ms` milliseconds (at most 60 s), then answers. Cancellable.',
      inputSchema: { ms: z.number().int().min(0).max(60_000) },
      annotations: a.slow,
    },
    async ({ ms }, extra) => {
      await sleep(ms, extra.signal);
      return ok({ waitedMs: ms });
    },
  );
  server.registerTool(
    'progress',
    {
      description: 'Sends `steps` progress notifications (when the caller asked for progress), then answers.',
      inputSchema: { steps: z.number().int().min(1).max(100) },
      annotations: a.progress,
    },
    async ({ steps }, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: i, total: steps, message: `step ${i} of ${steps}` },
          });
        }
        // Also waits after the last notification: the SDK client handles notifications a microtask
        // later than responses, so a notification that arrives in the same chunk as the result is dropped.
        await sleep(PROGRESS_STEP_MS, extra.signal);
      }
      return ok({ steps, notified: progressToken !== undefined });
    },
  );
}

/** Delay between progress notifications, so a proxy that buffers instead of streaming is visible. */
const PROGRESS_STEP_MS = 20;

function registerPrompts(server: McpServer, store: CrmStore): void {
  server.registerPrompt(
    'greeting',
    { description: 'A friendly greeting.', argsSchema: { name: z.string() } },
    ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}.` } }],
    }),
  );
  server.registerPrompt(
    'summarize_customer',
    {
      description: 'Asks the model to summarize one customer.',
      argsSchema: { tenant: z.string(), id: z.string() },
    },
    ({ tenant: t, id }) => {
      const c = store.find(t, id);
      const facts = c ? `${c.name} <${c.email}>, plan ${c.plan}. Notes: ${c.notes}` : 'unknown customer';
      return {
        description: `Summary of customer ${id} (${t})`,
        messages: [{ role: 'user', content: { type: 'text', text: `Summarize this customer: ${facts}` } }],
      };
    },
  );
}

function registerResources(server: McpServer, store: CrmStore): void {
  server.registerResource(
    'handbook',
    'docs://handbook',
    { title: 'Support handbook', description: 'Static support handbook.', mimeType: 'text/markdown' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: HANDBOOK_TEXT }] }),
  );
  // The tenant is part of the URI, so a policy can keep each caller to its own tenant's customers.
  const template = new ResourceTemplate('crm://{tenant}/customers/{id}', {
    list: async () => ({
      resources: store.all().map((c) => ({
        uri: `crm://${c.tenant}/customers/${c.id}`,
        name: `customer ${c.id}`,
        mimeType: 'application/json',
      })),
    }),
  });
  server.registerResource(
    'customer',
    template,
    { title: 'Customer record', description: 'One CRM customer as JSON.', mimeType: 'application/json' },
    async (uri, variables) => {
      const tenant = String(variables.tenant);
      const id = String(variables.id);
      const c = store.find(tenant, id);
      if (!c) throw new Error(`customer ${id} not found in tenant ${tenant}`);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(c) }] };
    },
  );
}

function ok(data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

function text(body: string, data: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: body }], structuredContent: data };
}

function fail(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
