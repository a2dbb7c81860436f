/**
 * `completion/complete` decided as a use of the prompt or resource template its ref names, end to end: the MCP
 * SDK's real `Client` through the sidecar (the default policy, compiled from `policies/`) to a real SDK server
 * whose prompts and template complete their arguments, named as in the default catalog. A caller gets
 * completions for what it may use; a completion for a prompt or template it may not use, in another tenant or
 * in none (a tenant-scoped item's context without a tenant), of the tenant itself, or whose ref names nothing,
 * is refused with the policy's denial (-32003) and never
 * reaches the upstream.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CompleteResultSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { COMPLETION_REF_NEEDED } from '../../src/mcp/action.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const TEMPLATE = 'crm://{tenant}/customers/{id}';
const IDS: Record<string, readonly string[]> = { acme: ['c-1', 'c-2'], globex: ['g-1'] };
const idsOf = (tenant: string | undefined): readonly string[] =>
  IDS[tenant ?? ''] ?? Object.values(IDS).flat();

let h: Harness;
let close: () => Promise<void>;
/** The completion requests that reached the upstream, as it received them. */
const received: JSONRPCMessage[] = [];

beforeAll(async () => {
  const upstream = await startSdkUpstream(async (t) => {
    const server = new McpServer({ name: 'completions', version: '1' });
    server.registerPrompt(
      'greeting',
      {
        argsSchema: {
          name: completable(z.string(), (v) => ['alice', 'anna', 'bob'].filter((n) => n.startsWith(v))),
        },
      },
      ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `hi ${name}` } }] }),
    );
    server.registerPrompt(
      'summarize_customer',
      {
        argsSchema: {
          tenant: completable(z.string(), () => Object.keys(IDS)),
          id: completable(z.string(), (v, ctx) =>
            idsOf(ctx?.arguments?.tenant).filter((id) => id.startsWith(v)),
          ),
        },
      },
      ({ id }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `summarize ${id}` } }] }),
    );
    const template = new ResourceTemplate(TEMPLATE, {
      list: undefined,
      complete: {
        tenant: () => Object.keys(IDS),
        id: (v, ctx) => idsOf(ctx?.arguments?.tenant).filter((id) => id.startsWith(v)),
      },
    });
    server.registerResource('customer', template, {}, async (uri) => ({
      contents: [{ uri: uri.href, text: '{}' }],
    }));
    await server.connect(t);
    const deliver = t.onmessage;
    t.onmessage = (message, extra) => {
      if ('method' in message && message.method === 'completion/complete') received.push(message);
      deliver?.(message, extra);
    };
  });
  close = upstream.close;
  h = await startHarness({ upstream: { url: upstream.url } as unknown as ExampleServer });
});

afterAll(async () => {
  await h?.stop();
  await close?.();
});

beforeEach(() => {
  received.length = 0;
});

const prompt = (name: string) => ({ type: 'ref/prompt' as const, name });
const template = (uri: string) => ({ type: 'ref/resource' as const, uri });

async function caller(roles: string[]): Promise<Client> {
  return connectStreamable(h.mcpUrl, await h.bearer(roles));
}

/** The refs of the completions the upstream received, in order. */
function refsReceived(): unknown[] {
  return received.map((m) => ('params' in m ? m.params?.ref : undefined));
}

describe('completion/complete', () => {
  it('completes a prompt the caller may use, and refuses one it may not before the upstream', async () => {
    const guest = await caller(['guest']);
    try {
      const done = await guest.complete({ ref: prompt('greeting'), argument: { name: 'name', value: 'a' } });
      expect(done.completion.values).toEqual(['alice', 'anna']);
      await expect(
        guest.complete({ ref: prompt('summarize_customer'), argument: { name: 'id', value: '' } }),
      ).rejects.toMatchObject({
        code: -32003,
        message: expect.stringContaining('Forbidden: role guest may not use prompt summarize_customer'),
      });
      expect(refsReceived()).toEqual([prompt('greeting')]);
    } finally {
      await guest.close();
    }
  });

  it('completes a resource template the caller may read, in its own tenant only', async () => {
    const analyst = await caller(['analyst']);
    const guest = await caller(['guest']);
    try {
      const ids = await analyst.complete({
        ref: template(TEMPLATE),
        argument: { name: 'id', value: 'c' },
        context: { arguments: { tenant: 'acme' } },
      });
      expect(ids.completion.values).toEqual(['c-1', 'c-2']);
      const refusals: [Client, Parameters<Client['complete']>[0], string][] = [
        [
          guest,
          { ref: template(TEMPLATE), argument: { name: 'id', value: '' } },
          'role guest may not access resource template crm://{tenant}/customers/{id}',
        ],
        [
          analyst,
          {
            ref: template(TEMPLATE),
            argument: { name: 'id', value: '' },
            context: { arguments: { tenant: 'globex' } },
          },
          'argument tenant must be your tenant acme',
        ],
        [
          // No tenant in the context: the template's {tenant} is unfilled, and its completer lists every
          // tenant's ids (as this one does), so the caller must name its own.
          analyst,
          { ref: template(TEMPLATE), argument: { name: 'id', value: '' } },
          'argument tenant must be your tenant acme',
        ],
        [
          analyst,
          { ref: template(TEMPLATE), argument: { name: 'tenant', value: '' } },
          'argument tenant may not be completed: it can only be your tenant acme',
        ],
        [
          analyst,
          { ref: prompt('summarize_customer'), argument: { name: 'tenant', value: 'g' } },
          'argument tenant may not be completed: it can only be your tenant acme',
        ],
      ];
      for (const [client, params, reason] of refusals) {
        await expect(client.complete(params), reason).rejects.toMatchObject({
          code: -32003,
          message: expect.stringContaining(`Forbidden: ${reason}`),
        });
      }
      expect(refsReceived()).toEqual([template(TEMPLATE)]);
    } finally {
      await analyst.close();
      await guest.close();
    }
  });

  it('completes a tenant-scoped prompt only when its context names the tenant', async () => {
    const analyst = await caller(['analyst']);
    try {
      const ids = await analyst.complete({
        ref: prompt('summarize_customer'),
        argument: { name: 'id', value: 'c' },
        context: { arguments: { tenant: 'acme' } },
      });
      expect(ids.completion.values).toEqual(['c-1', 'c-2']);
      // No tenant in the context: the prompt's completer lists every tenant's ids (as this one does), and the
      // catalog marks summarize_customer tenant_required, so the caller must name its own.
      for (const context of [undefined, { arguments: { id: 'c' } }]) {
        await expect(
          analyst.complete({
            ref: prompt('summarize_customer'),
            argument: { name: 'id', value: '' },
            ...(context && { context }),
          }),
        ).rejects.toMatchObject({
          code: -32003,
          message: expect.stringContaining(
            'Forbidden: argument tenant is required: summarize_customer is tenant-scoped',
          ),
        });
      }
      expect(refsReceived()).toEqual([prompt('summarize_customer')]);
    } finally {
      await analyst.close();
    }
  });

  it('refuses a completion whose ref names no prompt or template, whatever the caller may use', async () => {
    const admin = await caller(['admin']);
    try {
      const bad = { ref: { type: 'ref/tool', name: 'run_sql' }, argument: { name: 'query', value: 's' } };
      await expect(
        admin.request({ method: 'completion/complete', params: bad }, CompleteResultSchema),
      ).rejects.toMatchObject({ code: -32003, message: expect.stringContaining(COMPLETION_REF_NEEDED) });
      const ok = await admin.complete({
        ref: prompt('summarize_customer'),
        argument: { name: 'tenant', value: '' },
      });
      expect(ok.completion.values).toEqual(['acme', 'globex']);
      expect(refsReceived()).toEqual([prompt('summarize_customer')]);
    } finally {
      await admin.close();
    }
  });
});
