/**
 * Deterministic fake data for the example MCP server: a product list, a few handbook documents and a
 * small CRM with customers in two tenants (`acme`, `globex`). Every server instance gets its own
 * {@link CrmStore}, so writes (`update_customer`, `delete_customer`, `create_ticket`) never leak between
 * tests. The SSNs are in the 900 range, which the SSA never issues.
 *
 * @module
 */

export type Tenant = 'acme' | 'globex';

export const TENANTS: readonly Tenant[] = ['acme', 'globex'];

export interface Customer {
  readonly id: string;
  readonly tenant: Tenant;
  readonly name: string;
  readonly email: string;
  readonly plan: 'free' | 'pro' | 'enterprise';
  readonly ssn: string;
  readonly notes: string;
}

export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
}

export interface Doc {
  readonly id: string;
  readonly title: string;
  readonly body: string;
}

export interface Ticket {
  readonly id: string;
  readonly tenant: Tenant;
  readonly title: string;
  readonly body: string;
  readonly customerSsn?: string;
}

const SEED_CUSTOMERS: readonly Customer[] = [
  {
    id: 'c-1',
    tenant: 'acme',
    name: 'Ada Lovelace',
    email: 'ada@acme.example',
    plan: 'enterprise',
    ssn: '900-00-0001',
    notes: 'Prefers email.',
  },
  {
    id: 'c-2',
    tenant: 'acme',
    name: 'Alan Turing',
    email: 'alan@acme.example',
    plan: 'pro',
    ssn: '900-00-0002',
    notes: 'Renewal due in Q3.',
  },
  {
    id: 'c-3',
    tenant: 'acme',
    name: 'Grace Hopper',
    email: 'grace@acme.example',
    plan: 'free',
    ssn: '900-00-0003',
    notes: 'Asked about SSO.',
  },
  {
    id: 'c-4',
    tenant: 'globex',
    name: 'Hank Scorpio',
    email: 'hank@globex.example',
    plan: 'enterprise',
    ssn: '900-00-0004',
    notes: 'VIP.',
  },
  {
    id: 'c-5',
    tenant: 'globex',
    name: 'Homer Simpson',
    email: 'homer@globex.example',
    plan: 'free',
    ssn: '900-00-0005',
    notes: 'Safety inspector.',
  },
];

export const PRODUCTS: readonly Product[] = [
  { sku: 'p-100', name: 'Widget', priceCents: 1_999 },
  { sku: 'p-200', name: 'Gadget', priceCents: 4_999 },
  { sku: 'p-300', name: 'Gizmo Enterprise', priceCents: 99_900 },
];

export const DOCS: readonly Doc[] = [
  { id: 'd-1', title: 'Getting started', body: 'Install the widget, then connect it to your account.' },
  { id: 'd-2', title: 'Refund policy', body: 'Refunds are possible within 30 days of purchase.' },
  { id: 'd-3', title: 'Single sign-on', body: 'Enterprise plans can use SAML or OIDC single sign-on.' },
];

export const HANDBOOK_TEXT = [
  '# Support handbook',
  '',
  '1. Be kind.',
  '2. Never paste a customer SSN into a ticket.',
  '3. Escalate enterprise customers within one hour.',
  '',
].join('\n');

/** The mutable CRM of one server instance, seeded with the same customers every time. */
export class CrmStore {
  readonly #customers = new Map<string, Customer>(SEED_CUSTOMERS.map((c) => [c.id, c]));
  readonly #tickets: Ticket[] = [];

  /** All customers, in id order. */
  all(): Customer[] {
    return [...this.#customers.values()];
  }

  /** Customers of one tenant, in id order. */
  byTenant(tenant: string): Customer[] {
    return this.all().filter((c) => c.tenant === tenant);
  }

  /** One customer, only when it belongs to `tenant`. */
  find(tenant: string, id: string): Customer | undefined {
    const c = this.#customers.get(id);
    return c && c.tenant === tenant ? c : undefined;
  }

  /** Applies `fields` (only name, email, plan and notes are writable); undefined when not found. */
  update(tenant: string, id: string, fields: Record<string, unknown>): Customer | undefined {
    const current = this.find(tenant, id);
    if (!current) return undefined;
    const next: Customer = {
      ...current,
      ...pickString(fields, 'name'),
      ...pickString(fields, 'email'),
      ...pickString(fields, 'notes'),
      ...pickPlan(fields),
    };
    this.#customers.set(id, next);
    return next;
  }

  /** Deletes a customer; false when it was already absent (so the call is idempotent). */
  delete(tenant: string, id: string): boolean {
    if (!this.find(tenant, id)) return false;
    return this.#customers.delete(id);
  }

  /** Records a ticket and gives it the next id (`T-1001`, `T-1002`, …). */
  createTicket(input: Omit<Ticket, 'id'>): Ticket {
    const ticket: Ticket = { id: `T-${1001 + this.#tickets.length}`, ...input };
    this.#tickets.push(ticket);
    return ticket;
  }
}

/** Renders customers as CSV with a header row; values are quoted when they contain `,`, `"` or a newline. */
export function toCsv(rows: readonly Customer[]): string {
  const cols = ['id', 'tenant', 'name', 'email', 'plan', 'ssn', 'notes'] as const;
  const quote = (v: string): string => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return [cols.join(','), ...rows.map((r) => cols.map((k) => quote(r[k])).join(','))].join('\n');
}

function pickString(fields: Record<string, unknown>, key: 'name' | 'email' | 'notes'): Partial<Customer> {
  const v = fields[key];
  return typeof v === 'string' ? { [key]: v } : {};
}

function pickPlan(fields: Record<string, unknown>): Partial<Customer> {
  const v = fields.plan;
  return v === 'free' || v === 'pro' || v === 'enterprise' ? { plan: v } : {};
}
